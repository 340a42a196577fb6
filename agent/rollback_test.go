package agent_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"
	"time"

	"github.com/concord-db/concord/agent/agenttest"
	"github.com/concord-db/concord/node"
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
