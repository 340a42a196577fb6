package linearizability

// The resource workload: clients of the typed-resource store through
// Consul's ResourceService (proto-public's gRPC client) on the members'
// client ports, each request to a random member (writes are forwarded to
// the leader, strong reads pass the member's own ReadIndex barrier). Two
// checks besides the watchers (resource_watch.go):
//
//   - register per resource: resources lin.v1.Register/r<i> are registers
//     whose value is their data; strong reads (x-consul-consistency-mode:
//     consistent), unconditional writes (Consul's Write without a
//     version) and compare-and-swap writes guarded by the version a strong
//     read returned (an absent resource: create only if absent, through
//     x-concord-strict-cas); porcupine checks the history with the
//     register model.
//   - durability: creates of resources with unique names; after the final
//     kill -9 of every member each acknowledged one must be there with the
//     version its write returned.

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"

	"github.com/anishathalye/porcupine"
	"github.com/hashicorp/consul/proto-public/pbresource"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// The workload's resources: one type, registers r<i> and durable d-<tag>.
var (
	linResType    = &pbresource.Type{Group: "lin", GroupVersion: "v1", Kind: "Register"}
	linResTenancy = &pbresource.Tenancy{Partition: "default", Namespace: "default"}
)

// Metadata keys of the resource API (Consul's, and concord's extensions).
const (
	consistencyModeKey = "x-consul-consistency-mode"
	strictCASKey       = "x-concord-strict-cas"
	fromVersionKey     = "x-concord-from-version"
)

// resReadStrong says whether the register reads ask for a strong read:
// yes, unless CONCORD_RESOURCE_READ is "eventual". Weakening it (a
// partitioned member's stale state) must make the check fail; that is how
// the check is shown to catch stale reads.
func resReadStrong() bool { return os.Getenv("CONCORD_RESOURCE_READ") != "eventual" }

// ResRegInput is a register operation on a resource: the register model's
// input, a distinct type so that resources are checked as a history of
// their own.
type ResRegInput struct{ RegInput }

// ResRegisterModel is RegisterModel over ResRegInput operations.
var ResRegisterModel = func() porcupine.Model {
	m := RegisterModel
	m.Partition = func(h []porcupine.Operation) [][]porcupine.Operation {
		conv := make([]porcupine.Operation, len(h))
		for i, op := range h {
			op.Input = op.Input.(ResRegInput).RegInput
			conv[i] = op
		}
		return RegisterModel.Partition(conv)
	}
	return m
}()

// resState is the resource workload's share of a run.
type resState struct {
	mu      sync.Mutex
	acked   map[string]string // durable name -> version its create returned
	wrote   map[uint64]string // version -> name of every acknowledged write
	bad     []string          // anomalies the clients saw themselves
	ops     int
	lastErr error
	watch   *resWatchers
}

// written records an acknowledged write (its version must be seen by
// every watcher).
func (s *resState) written(res *pbresource.Resource) {
	v, err := strconv.ParseUint(res.GetVersion(), 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.bad = append(s.bad, fmt.Sprintf("write of %s answered version %q: %v", res.GetId().GetName(), res.GetVersion(), err))
		return
	}
	if s.wrote == nil {
		s.wrote = map[uint64]string{}
	}
	if prev, ok := s.wrote[v]; ok {
		s.bad = append(s.bad, fmt.Sprintf("writes of %s and %s both answered version %d", prev, res.GetId().GetName(), v))
	}
	s.wrote[v] = res.GetId().GetName()
}

func (s *resState) note(format string, args ...any) {
	s.mu.Lock()
	s.bad = append(s.bad, fmt.Sprintf(format, args...))
	s.mu.Unlock()
}

// resConns are one client's connections, one per member it has talked to.
type resConns struct {
	mu    sync.Mutex
	conns map[string]*grpc.ClientConn
}

func (c *resConns) client(ep string) (pbresource.ResourceServiceClient, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conns == nil {
		c.conns = map[string]*grpc.ClientConn{}
	}
	cc, ok := c.conns[ep]
	if !ok {
		var err error
		if cc, err = grpc.NewClient(ep, grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
			return nil, err
		}
		c.conns[ep] = cc
	}
	return pbresource.NewResourceServiceClient(cc), nil
}

func (c *resConns) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cc := range c.conns {
		cc.Close()
	}
}

func linResID(name string) *pbresource.ID {
	return &pbresource.ID{Type: linResType, Tenancy: linResTenancy, Name: name}
}

func linData(v string) *anypb.Any {
	a, _ := anypb.New(wrapperspb.String(v))
	return a
}

// dataValue is the string a resource's data holds.
func dataValue(res *pbresource.Resource) (string, error) {
	var s wrapperspb.StringValue
	if err := res.GetData().UnmarshalTo(&s); err != nil {
		return "", fmt.Errorf("resource %s: data: %w", res.GetId().GetName(), err)
	}
	return s.Value, nil
}

func strongCtx(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, consistencyModeKey, "consistent")
}

// resSeen is what a client's last strong read of a register returned.
type resSeen struct {
	value, version string
	id             *pbresource.ID
}

func (k *worker) resourceLoop(ctx context.Context) {
	var conns resConns
	defer conns.close()
	cli := func() (pbresource.ResourceServiceClient, error) { return conns.client(k.endpoint()) }
	seen := map[string]resSeen{}
	for n := 0; n < k.r.w.MaxOpsPerClient && ctx.Err() == nil; n++ {
		p := k.rng.Intn(100)
		if p < k.r.w.DurablePercent {
			k.resCreate(ctx, cli)
			continue
		}
		name := "r" + strconv.Itoa(k.rng.Intn(k.r.w.Keys))
		key := "res/" + name
		last, haveLast := seen[key]
		switch {
		case p < 55 || (p >= 80 && !haveLast):
			var got resSeen
			_, ok := k.resOp(ctx, ResRegInput{RegInput{Op: "get", Key: key}}, func(ctx context.Context) (RegOutput, error) {
				c, err := cli()
				if err != nil {
					return RegOutput{}, err
				}
				if resReadStrong() {
					ctx = strongCtx(ctx)
				}
				resp, err := c.Read(ctx, &pbresource.ReadRequest{Id: linResID(name)})
				if grpcstatus.Code(err) == codes.NotFound {
					return RegOutput{}, nil
				}
				if err != nil {
					return RegOutput{}, err
				}
				v, err := dataValue(resp.Resource)
				if err != nil {
					k.r.res.note("%v", err)
				}
				got = resSeen{value: v, version: resp.Resource.Version, id: resp.Resource.Id}
				return RegOutput{Value: v}, nil
			})
			if ok {
				seen[key] = got
			}
		case p < 80:
			in := ResRegInput{RegInput{Op: "put", Key: key, Value: k.value()}}
			k.resOp(ctx, in, func(ctx context.Context) (RegOutput, error) {
				c, err := cli()
				if err != nil {
					return RegOutput{}, err
				}
				resp, err := c.Write(ctx, &pbresource.WriteRequest{Resource: &pbresource.Resource{Id: linResID(name), Data: linData(in.Value)}})
				if err == nil {
					k.r.res.written(resp.GetResource())
				}
				return RegOutput{}, err
			})
		default:
			in := ResRegInput{RegInput{Op: "cas", Key: key, Value: k.value(), Expect: last.value}}
			k.resOp(ctx, in, func(ctx context.Context) (RegOutput, error) {
				c, err := cli()
				if err != nil {
					return RegOutput{}, err
				}
				id := last.id
				if id == nil {
					id = linResID(name)
				}
				ctx = metadata.AppendToOutgoingContext(ctx, strictCASKey, "true")
				resp, err := c.Write(ctx, &pbresource.WriteRequest{Resource: &pbresource.Resource{Id: id, Version: last.version, Data: linData(in.Value)}})
				if grpcstatus.Code(err) == codes.Aborted {
					return RegOutput{OK: false}, nil // the version did not match: nothing written
				}
				if err != nil {
					return RegOutput{}, err
				}
				k.r.res.written(resp.GetResource())
				return RegOutput{OK: true}, nil
			})
			delete(seen, key)
		}
	}
}

// resOp runs one register operation with the operation timeout and
// records it; a failure is recorded as unknown.
func (k *worker) resOp(ctx context.Context, in ResRegInput, fn func(context.Context) (RegOutput, error)) (RegOutput, bool) {
	call := k.r.rec.Now()
	octx, cancel := context.WithTimeout(ctx, k.r.w.OpTimeout)
	out, err := fn(octx)
	cancel()
	k.r.res.mu.Lock()
	k.r.res.ops++
	k.r.res.mu.Unlock()
	if err != nil {
		k.resFailed(err)
		k.r.rec.Add(Op{Client: k.client, Call: call, Unknown: true, Input: in, Output: RegOutput{Unknown: true}})
		k.client = k.r.rec.NewClient()
		k.backoff(ctx)
		return RegOutput{}, false
	}
	k.r.rec.Add(Op{Client: k.client, Call: call, Return: k.r.rec.Now(), Input: in, Output: out})
	return out, true
}

func (k *worker) resFailed(err error) {
	k.r.failed(err)
	k.r.res.mu.Lock()
	k.r.res.lastErr = err
	k.r.res.mu.Unlock()
}

// resCreate creates a resource with a unique name, create-only; once
// acknowledged it must survive with the version the write returned.
func (k *worker) resCreate(ctx context.Context, cli func() (pbresource.ResourceServiceClient, error)) {
	name := "d-" + k.value()
	octx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(ctx, strictCASKey, "true"), k.r.w.OpTimeout)
	defer cancel()
	c, err := cli()
	if err != nil {
		k.resFailed(err)
		return
	}
	resp, err := c.Write(octx, &pbresource.WriteRequest{Resource: &pbresource.Resource{Id: linResID(name), Data: linData(name)}})
	if err != nil {
		k.resFailed(err)
		k.backoff(ctx)
		return
	}
	k.r.res.written(resp.GetResource())
	k.r.res.mu.Lock()
	if k.r.res.acked == nil {
		k.r.res.acked = map[string]string{}
	}
	k.r.res.acked[name] = resp.GetResource().GetVersion()
	k.r.res.mu.Unlock()
}
