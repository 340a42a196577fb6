package syncwatch

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestSyncedTree: files are reported before directories, the deepest
// directory first and the tree's root last (a parent listing recorded
// after its children), and the watcher's first error stops the walk and
// comes back to the caller.
func TestSyncedTree(t *testing.T) {
	root := filepath.Join(t.TempDir(), "snap")
	if err := os.MkdirAll(filepath.Join(root, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"state.bin", "sub/meta.json"} {
		if err := os.WriteFile(filepath.Join(root, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if Active() || Synced(root) != nil || SyncedTree(root) != nil {
		t.Fatal("with no watcher: Active, or a report that did something")
	}
	var seen []string
	Set(func(path string) error { seen = append(seen, path); return nil })
	defer Set(nil)
	if err := SyncedTree(root); err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(root, "state.bin"), filepath.Join(root, "sub/meta.json"), filepath.Join(root, "sub"), root}
	if !slices.Equal(seen, want) {
		t.Fatalf("reported %v, want %v", seen, want)
	}
	crashed := errors.New("crashed")
	seen = nil
	Set(func(path string) error { seen = append(seen, path); return crashed })
	if err := SyncedTree(root); !errors.Is(err, crashed) || len(seen) != 1 {
		t.Fatalf("a failing watcher: %v after %v, want the first report to fail the walk", err, seen)
	}
	if err := Synced(root); !errors.Is(err, crashed) {
		t.Fatalf("Synced returned %v, want the watcher's error", err)
	}
}
