package snapshot

import (
	"context"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/concord-db/concord/node"
)

// listSM is a tiny state machine: the list of commands applied.
type listSM struct {
	mu   sync.Mutex
	cmds []string
}

func (s *listSM) Apply(_ uint64, cmd []byte) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cmds = append(s.cmds, string(cmd))
	return nil
}

func (s *listSM) Snapshot() (node.Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return listSnap(slices.Clone(s.cmds)), nil
}

func (s *listSM) Restore(r io.Reader) error {
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

func (s *listSM) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.cmds)
}

type listSnap []string

func (l listSnap) Persist(w io.Writer) error {
	for _, c := range l {
		b := binary.AppendUvarint(nil, uint64(len(c)))
		if _, err := w.Write(append(b, c...)); err != nil {
			return err
		}
	}
	return nil
}

func (l listSnap) Release() {}

// TestNodeRoundTrip saves a real node's state into an archive, changes the
// state, and restores the archive into the node.
func TestNodeRoundTrip(t *testing.T) {
	cfg := node.DefaultConfig()
	cfg.ID, cfg.DataDir, cfg.PeerAddr, cfg.Bootstrap = "n1", t.TempDir(), "127.0.0.1:0", true
	cfg.HeartbeatTimeout, cfg.ElectionTimeout = 100*time.Millisecond, 100*time.Millisecond
	n, err := node.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sm := &listSM{}
	if err := n.Register(node.TypeUser, sm); err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	<-n.Ready()
	apply := func(cmds ...string) {
		for _, c := range cmds {
			if _, err := n.Apply(ctx, node.TypeUser, []byte(c)); err != nil {
				t.Fatal(err)
			}
		}
	}
	apply("a", "b", "c")

	path := filepath.Join(t.TempDir(), "backup.snap")
	hm := mustHMAC(t, 1)
	a, err := WriteFile(ctx, path, n, WriteOptions{Created: testCreated, Sealer: hm, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("archive: index %d, %d bytes, %s, meta %+v", a.Index(), a.Size(), a.Checksum(), a.Meta)
	if len(a.Meta.Members) != 1 || a.Meta.Members[0].ID != "n1" || !a.Meta.Members[0].Voter || a.Meta.ClusterID == "0" {
		t.Errorf("meta members %+v cluster %s", a.Meta.Members, a.Meta.ClusterID)
	}
	apply("d", "e")

	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := Restore(ctx, f, n, VerifyOptions{Sealer: hm, TempDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	if got := sm.all(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("after restore: %q, want [a b c]", got)
	}
	apply("f")
	if got := sm.all(); !slices.Equal(got, []string{"a", "b", "c", "f"}) {
		t.Fatalf("after restore and a write: %q", got)
	}
}
