package sqlstore

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/concord-db/concord/node"
)

// singleNode starts a real one-member raft node on loopback with s
// registered as the SQL state machine.
func singleNode(t *testing.T, s *Store) *node.Node {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	n, err := node.New(node.Config{ID: "n1", DataDir: t.TempDir(), PeerAddr: addr,
		InitialCluster:   []node.Peer{{ID: "n1", Addr: addr}},
		HeartbeatTimeout: 200 * time.Millisecond, ElectionTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Register(node.TypeSQL, s); err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Shutdown() })
	deadline := time.Now().Add(20 * time.Second)
	for n.Status().State != "Leader" {
		if time.Now().After(deadline) {
			t.Fatalf("no leader: %+v", n.Status())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return n
}

func TestDBExecuteAndQueryAtEveryLevel(t *testing.T) {
	s := openTestStore(t)
	db := NewDB(s, singleNode(t, s))
	ctx := context.Background()
	if _, err := db.Execute(ctx, Request{Statements: stmts("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")}); err != nil {
		t.Fatal(err)
	}
	rs, err := db.Execute(ctx, Request{Statements: []Statement{{SQL: "INSERT INTO t (v) VALUES (?)", Positional: []any{"x"}}}})
	if err != nil || rs[0].Error != "" || rs[0].RowsAffected != 1 {
		t.Fatalf("insert: %#v %v", rs, err)
	}
	for _, lvl := range []Level{LevelNone, LevelWeak, LevelLinearizable, LevelStrong} {
		rs, err := db.Query(ctx, Request{Statements: stmts("SELECT v FROM t")}, QueryOptions{Level: lvl, Freshness: time.Second})
		if err != nil || len(rs) != 1 || len(rs[0].Rows) != 1 || rs[0].Rows[0][0] != "x" {
			t.Fatalf("level %v: %#v %v", lvl, rs, err)
		}
	}
	if s.AppliedIndex() == 0 {
		t.Fatal("store applied nothing")
	}
}
