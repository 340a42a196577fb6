package agent_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"testing"
	"time"

	"github.com/concord-db/concord/agent/agenttest"
	"github.com/concord-db/concord/node"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// forgeStateBin writes a state.bin whose framing and checksums are right
// but whose kv section is not a kv snapshot.
func forgeStateBin(kvSection []byte) []byte {
	var b bytes.Buffer
	b.WriteString("CONCORD\x00")
	binary.Write(&b, binary.LittleEndian, uint16(1))
	binary.Write(&b, binary.LittleEndian, uint64(5))
	binary.Write(&b, binary.LittleEndian, uint64(1))
	b.WriteByte(byte(node.TypeKV))
	binary.Write(&b, binary.LittleEndian, uint32(len(kvSection)))
	b.Write(kvSection)
	binary.Write(&b, binary.LittleEndian, uint32(0))
	binary.Write(&b, binary.LittleEndian, crc32.Checksum(kvSection, crc32.MakeTable(crc32.Castagnoli)))
	b.WriteByte(0xFF)
	return b.Bytes()
}

// TestRollbackRefusesSectionItsStateMachineRejects: raft cannot undo a
// restore that fails halfway (it panics), so a stream whose checksums hold
// but whose kv section the kv store would refuse must be refused before
// raft sees it, leaving the state and the cluster as they were.
func TestRollbackRefusesSectionItsStateMachineRejects(t *testing.T) {
	c := agenttest.Start(t, 3, agenttest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cli := c.Client()
	if _, err := cli.Put(ctx, "keep", "me"); err != nil {
		t.Fatal(err)
	}
	leader := c.Agent(c.Leader())
	err := leader.Node.Rollback(ctx, bytes.NewReader(forgeStateBin([]byte("this is not a kv snapshot"))))
	if !errors.Is(err, node.ErrBadSnapshot) {
		t.Fatalf("rollback of a forged kv section: %v, want ErrBadSnapshot", err)
	}
	resp, err := cli.Get(ctx, "keep")
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "me" {
		t.Fatalf("state after a refused rollback: %v %+v", err, resp)
	}
	if _, err := cli.Put(ctx, "after", "ok"); err != nil {
		t.Fatalf("cluster after a refused rollback: %v", err)
	}
}

// TestRollbackCancelsWatchersMovingForward: a rollback to a snapshot whose
// revision is ahead of what a watcher was sent must not resume the watcher
// on the restored history as if nothing happened: it is cancelled with the
// restored revision as compact revision (clientv3 reports ErrCompacted).
func TestRollbackCancelsWatchersMovingForward(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	src := agenttest.Start(t, 1, agenttest.Options{})
	for i := range 20 {
		if _, err := src.Client().Put(ctx, fmt.Sprintf("src/%d", i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	var snap bytes.Buffer
	if _, err := src.Agent(0).Node.WriteSnapshot(ctx, &snap); err != nil {
		t.Fatal(err)
	}
	srcRev := src.Agent(0).Store.Rev()

	dst := agenttest.Start(t, 3, agenttest.Options{})
	cli := dst.Client()
	put, err := cli.Put(ctx, "w", "seen")
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	var chans []clientv3.WatchChan
	for i := range dst.Size() { // a watcher on every member, from the put's revision
		chans = append(chans, dst.Client(i).Watch(wctx, "w", clientv3.WithRev(put.Header.Revision)))
	}
	for i, ch := range chans {
		if resp := <-ch; resp.Err() != nil || len(resp.Events) != 1 || resp.Events[0].Kv.ModRevision != put.Header.Revision {
			t.Fatalf("member %d: first event: %v %+v", i, resp.Err(), resp)
		}
	}
	if err := dst.Agent(dst.Leader()).Node.Rollback(ctx, bytes.NewReader(snap.Bytes())); err != nil {
		t.Fatal(err)
	}
	for i, ch := range chans {
		resp, ok := <-ch
		if !ok || !errors.Is(resp.Err(), rpctypes.ErrCompacted) || resp.CompactRevision != srcRev {
			t.Fatalf("member %d: after the rollback the watcher got %v %+v (open %v), want ErrCompacted at %d", i, resp.Err(), resp, ok, srcRev)
		}
	}
	// The restored state is served everywhere.
	for i := range dst.Size() {
		g, err := dst.Client(i).Get(ctx, "src/", clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil || g.Count != 20 {
			t.Fatalf("member %d after rollback: %v %+v", i, err, g)
		}
	}
}
