package node

import (
	"context"
	"encoding/binary"
	"io"
	"sync"
	"testing"
	"time"
)

// logSM records every command it applies, for tests.
type logSM struct {
	mu   sync.Mutex
	cmds []string
}

func (s *logSM) Apply(index uint64, cmd []byte) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cmds = append(s.cmds, string(cmd))
	return binary.AppendUvarint(nil, uint64(len(s.cmds)))
}

func (s *logSM) Snapshot() (Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return &logSnap{cmds: append([]string(nil), s.cmds...)}, nil
}

func (s *logSM) Restore(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	var cmds []string
	for len(b) > 0 {
		n, k := binary.Uvarint(b)
		cmds = append(cmds, string(b[k:k+int(n)]))
		b = b[k+int(n):]
	}
	s.mu.Lock()
	s.cmds = cmds
	s.mu.Unlock()
	return nil
}

func (s *logSM) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.cmds...)
}

type logSnap struct{ cmds []string }

func (s *logSnap) Persist(w io.Writer) error {
	for _, c := range s.cmds {
		if _, err := w.Write(appendString(nil, c)); err != nil {
			return err
		}
	}
	return nil
}
func (s *logSnap) Release() {}

func TestSmokeSingleNode(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ID, cfg.DataDir, cfg.PeerAddr, cfg.Bootstrap = "n1", t.TempDir(), "127.0.0.1:0", true
	cfg.HeartbeatTimeout, cfg.ElectionTimeout = 100*time.Millisecond, 100*time.Millisecond
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sm := &logSM{}
	n.Register(TypeUser, sm)
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	<-n.Ready()
	for i := 0; i < 5; i++ {
		res, err := n.Apply(ctx, TypeUser, []byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("index %d data %v", res.Index, res.Data)
	}
	if err := n.ReadBarrier(ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(sm.all()); got != 5 {
		t.Fatalf("applied %d", got)
	}
	t.Logf("%+v", n.Status())
}
