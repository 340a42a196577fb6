package snapshot

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPlainTools checks that an archive can be listed with tar and checked
// with sha256sum, without concord.
func TestPlainTools(t *testing.T) {
	for _, tool := range []string{"tar", "sha256sum"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: %v", tool, err)
		}
	}
	for _, tc := range []struct {
		name   string
		sealer Sealer
		want   string
	}{
		{"unsealed", nil, "meta.json\nstate.bin\nSHA256SUMS\n"},
		{"sealed", mustHMAC(t, 1), "meta.json\nstate.bin\nSHA256SUMS\nSHA256SUMS.sealed\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "backup.snap")
			if err := os.WriteFile(path, writeArchiveBytes(t, makeState(7, 3, "hello"), tc.sealer), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command("tar", "-tzf", path).CombinedOutput()
			if err != nil || string(out) != tc.want {
				t.Fatalf("tar -tzf: %v\n%s", err, out)
			}
			x := filepath.Join(dir, "x")
			os.Mkdir(x, 0o700)
			if out, err := exec.Command("tar", "-xzf", path, "-C", x).CombinedOutput(); err != nil {
				t.Fatalf("tar -xzf: %v\n%s", err, out)
			}
			cmd := exec.Command("sha256sum", "-c", "SHA256SUMS")
			cmd.Dir = x
			out, err = cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "meta.json: OK") || !strings.Contains(string(out), "state.bin: OK") {
				t.Fatalf("sha256sum -c: %v\n%s", err, out)
			}
			// and it notices damage
			os.WriteFile(filepath.Join(x, StateName), []byte("tampered"), 0o600)
			cmd = exec.Command("sha256sum", "-c", "SHA256SUMS")
			cmd.Dir = x
			if out, err := cmd.CombinedOutput(); err == nil {
				t.Fatalf("sha256sum -c accepted a tampered state.bin:\n%s", out)
			}
		})
	}
}
