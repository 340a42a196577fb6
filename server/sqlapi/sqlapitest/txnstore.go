package sqlapitest

import (
	"context"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/concord-db/concord/node"
	"github.com/concord-db/concord/server/sqlapi"
	"github.com/concord-db/concord/sqlstore"
)

// StoreServer is the API over one real sqlstore database (the replicated
// state machine, its transactions included) on a one-member "cluster"
// without raft: commands apply in the order they are proposed. For tests
// of the transaction endpoints and of clients such as sqldriver that need
// the real store but not a cluster.
type StoreServer struct {
	URL  string
	Addr string

	t     testing.TB
	dir   string
	mu    sync.Mutex
	store *sqlstore.Store
	db    *sqlstore.DB
	srv   *http.Server
}

// StartStore serves a fresh database until the test ends.
func StartStore(t testing.TB) *StoreServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &StoreServer{t: t, dir: t.TempDir(), Addr: l.Addr().String()}
	s.URL = "http://" + s.Addr
	s.start(l)
	t.Cleanup(s.stop)
	return s
}

// DB is the database the API serves (it changes on Restart).
func (s *StoreServer) DB() *sqlstore.DB {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.db
}

func (s *StoreServer) start(l net.Listener) {
	s.t.Helper()
	store, err := sqlstore.Open(sqlstore.Config{Dir: s.dir})
	if err != nil {
		s.t.Fatal(err)
	}
	db := sqlstore.NewDB(store, &localNode{store: store, index: store.AppliedIndex()})
	api, err := sqlapi.New(sqlapi.Config{DB: db, Cluster: &staticCluster{addr: s.Addr}})
	if err != nil {
		s.t.Fatal(err)
	}
	mux := http.NewServeMux()
	for pattern, h := range api.Routes() {
		mux.Handle(pattern, h)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	s.mu.Lock()
	s.store, s.db, s.srv = store, db, srv
	s.mu.Unlock()
}

func (s *StoreServer) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv == nil {
		return
	}
	_ = s.srv.Close()
	_ = s.store.Close()
	s.srv = nil
}

// Restart stops the member (open connections are cut, open transactions
// are lost) and starts it again on the same address and database file.
func (s *StoreServer) Restart() {
	s.t.Helper()
	s.stop()
	var l net.Listener
	var err error
	deadline := time.Now().Add(10 * time.Second)
	for {
		if l, err = net.Listen("tcp", s.Addr); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatal(err)
	}
	s.start(l)
}

// localNode applies each command to the store at once, in call order.
type localNode struct {
	mu    sync.Mutex
	store *sqlstore.Store
	index uint64
}

func (n *localNode) Apply(_ context.Context, _ node.Type, payload []byte) (node.Result, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.index++
	return node.Result{Index: n.index, Data: n.store.Apply(n.index, payload)}, nil
}

func (n *localNode) ReadBarrier(context.Context) error { return nil }

func (n *localNode) Status() node.Status { return node.Status{ID: "m1", State: "Leader"} }
