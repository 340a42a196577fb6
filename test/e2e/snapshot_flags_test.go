package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSnapshotAgentFlags: --snapshot-spool-dir is created and cleared of a
// crashed run's spools at start and used by snapshot saves, and
// --snapshot-max-restore-bytes refuses a larger restore upload, leaving the
// data unchanged.
func TestSnapshotAgentFlags(t *testing.T) {
	t.Parallel()
	a := newAgent(t, "n1")
	spool := filepath.Join(a.dir, "spool")
	if err := os.MkdirAll(spool, 0o700); err != nil {
		t.Fatal(err)
	}
	leftover := filepath.Join(spool, "concord-state-crashed.bin")
	if err := os.WriteFile(leftover, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	a.start(append(a.nodeArgs(), "--bootstrap", "--snapshot-spool-dir", spool, "--snapshot-max-restore-bytes", "200")...)
	waitReady(t, a)
	if _, err := os.Stat(leftover); !os.IsNotExist(err) {
		t.Fatalf("leftover spool still there after start: %v", err)
	}

	runCLI(t, "kv", "put", "--endpoints", a.clientAddr, "k", "v1")
	archive := filepath.Join(t.TempDir(), "backup.snap")
	runCLI(t, "snapshot", "save", "--endpoints", a.clientAddr, archive)
	runCLI(t, "kv", "put", "--endpoints", a.clientAddr, "k", "v2")
	st, err := os.Stat(archive)
	if err != nil || st.Size() <= 200 {
		t.Fatalf("archive %v, %v: want more than the 200-byte cap", st, err)
	}

	cmd := exec.Command(binary, "snapshot", "restore", "--yes", "--endpoints", a.clientAddr, archive)
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("restore of a %d-byte archive over a 200-byte cap succeeded:\n%s", st.Size(), out)
	}
	if !strings.Contains(string(out), "too large") && !strings.Contains(string(out), "snapshot_too_large") {
		t.Fatalf("restore over the cap did not say it was too large:\n%s", out)
	}
	if got := strings.TrimSpace(runCLI(t, "kv", "get", "--endpoints", a.clientAddr, "-o", "value", "k")); got != "v2" {
		t.Fatalf("after the refused restore k = %q, want v2", got)
	}
}
