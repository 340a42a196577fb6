package linearizability

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/concord-db/concord/agent"
	"github.com/concord-db/concord/agent/agenttest"
)

// TestTLSAuthRegisters runs the register workload against a three-member
// cluster with TLS and client-certificate verification on both ports and
// auth on: every client authenticates as a user that may only read and
// write the workload's prefix (checked: a write outside it is denied),
// while leadership moves twice and a follower crashes and restarts (its
// clients authenticate again). The history must be linearizable. Short
// (a few seconds of load), so it runs in CI; LIN_TLS_AUTH_SECONDS
// lengthens it.
func TestTLSAuthRegisters(t *testing.T) {
	c := agenttest.Start(t, 3, agenttest.Options{TLS: true, Configure: func(_ int, cfg *agent.Config) {
		cfg.Auth.BcryptCost = 4
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin := c.Client() // the client certificate's CN is root: root while auth is off
	for i, step := range []func() error{
		func() error { _, err := admin.UserAdd(ctx, "root", "rootpw"); return err },
		func() error { _, err := admin.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := admin.RoleAdd(ctx, "lin"); return err },
		func() error {
			_, err := admin.RoleGrantPermission(ctx, "lin", regPrefix, clientv3.GetPrefixRangeEnd(regPrefix), clientv3.PermissionType(clientv3.PermReadWrite))
			return err
		},
		func() error { _, err := admin.UserAdd(ctx, "lin", "linpw"); return err },
		func() error { _, err := admin.UserGrantRole(ctx, "lin", "lin"); return err },
		func() error { _, err := admin.AuthEnable(ctx); return err },
	} {
		if err := step(); err != nil {
			t.Fatalf("auth setup step %d: %v", i, err)
		}
	}
	user := func() *clientv3.Client {
		return c.ClientWith(clientv3.Config{Username: "lin", Password: "linpw", DialKeepAliveTime: time.Second, DialKeepAliveTimeout: time.Second})
	}
	if _, err := user().Put(ctx, "outside", "x"); !errors.Is(err, rpctypes.ErrPermissionDenied) {
		t.Fatalf("the workload's user wrote outside its prefix: %v (the clients do not act as that user)", err)
	}

	seconds := 4
	if s, err := strconv.Atoi(os.Getenv("LIN_TLS_AUTH_SECONDS")); err == nil && s > 0 {
		seconds = s
	}
	rec := NewRecorder()
	run, stop := context.WithTimeout(ctx, time.Duration(seconds)*time.Second)
	defer stop()
	var wg sync.WaitGroup
	for w := range 4 {
		cli := user()
		wg.Add(1)
		go func() {
			defer wg.Done()
			registerWorker(run, rec, cli, rand.New(rand.NewSource(int64(w))), w)
		}()
	}
	// Faults: two leader moves and a follower crash and restart.
	faults := []func() error{
		func() error { return c.Agent(c.Leader()).Node.TransferLeadership(run, "") },
		func() error { f := c.Follower(); c.Crash(f); c.Restart(f); return nil },
		func() error { return c.Agent(c.Leader()).Node.TransferLeadership(run, "") },
	}
	for i, f := range faults {
		select {
		case <-run.Done():
		case <-time.After(time.Duration(seconds) * time.Second / time.Duration(len(faults)+1)):
			if err := f(); err != nil && run.Err() == nil {
				t.Logf("fault %d: %v", i, err)
			}
		}
	}
	wg.Wait()
	ops := rec.Ops()
	v := Check(t.Name(), ArtifactDir(), ops, nil, 0)
	t.Logf("%d operations (%d unknown), %d histories", v.Ops, v.Unknown, v.Histories)
	if len(v.Violations) > 0 {
		t.Fatalf("violations: %v (artifacts %v)", v.Violations, v.Files)
	}
	if v.Ops-v.Unknown < 20 {
		t.Fatalf("only %d operations completed: the workload did not run", v.Ops-v.Unknown)
	}
}

// registerWorker puts unique values and gets them on a few keys until ctx
// ends, recording each operation; a put whose outcome is unknown is
// recorded as such, and the worker continues as a new logical client.
func registerWorker(ctx context.Context, rec *Recorder, cli *clientv3.Client, rng *rand.Rand, w int) {
	client := rec.NewClient()
	for n := 0; ctx.Err() == nil; n++ {
		key := regPrefix + strconv.Itoa(rng.Intn(3))
		octx, cancel := context.WithTimeout(ctx, 5*time.Second)
		call := rec.Now()
		if rng.Intn(2) == 0 {
			resp, err := cli.Get(octx, key)
			if err == nil {
				o := RegOutput{}
				if len(resp.Kvs) > 0 {
					o.Value, o.Rev = string(resp.Kvs[0].Value), resp.Kvs[0].ModRevision
				}
				rec.Add(Op{Client: client, Call: call, Return: rec.Now(), Input: RegInput{Op: "get", Key: key}, Output: o})
			}
		} else {
			val := fmt.Sprintf("w%d-%d", w, n)
			resp, err := cli.Put(octx, key, val)
			in := RegInput{Op: "put", Key: key, Value: val}
			if err != nil {
				rec.Add(Op{Client: client, Call: call, Unknown: true, Input: in, Output: RegOutput{Unknown: true}})
				client = rec.NewClient()
			} else {
				rec.Add(Op{Client: client, Call: call, Return: rec.Now(), Input: in, Output: RegOutput{Rev: resp.Header.Revision}})
			}
		}
		cancel()
	}
}
