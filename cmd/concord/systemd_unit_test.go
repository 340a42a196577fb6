package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// systemdUnit is a unit file's directives by section, in order, as
// systemd reads them (comments dropped, continued lines joined); with
// commented, a commented-out directive ("#Key=value") counts too.
type systemdUnit map[string][][2]string

// parseUnit reads a unit file the way systemd.syntax(7) describes: lines
// ending in a backslash continue on the next line, lines starting with #
// or ; are comments. With commented, "#Key=value" lines are read as
// directives (the file's optional settings, e.g. TLS).
func parseUnit(t *testing.T, path string, commented bool) systemdUnit {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := systemdUnit{}
	section, pending := "", ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if pending == "" && commented && strings.HasPrefix(line, "#") && strings.Contains(line, "=") &&
			!strings.Contains(line, " ") {
			line = strings.TrimPrefix(line, "#")
		}
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			pending += strings.TrimSuffix(line, `\`) + " "
			continue
		}
		line, pending = pending+line, ""
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = strings.Trim(line, "[]")
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || section == "" {
			t.Fatalf("%s: not a directive in a section: %q", path, line)
		}
		u[section] = append(u[section], [2]string{strings.TrimSpace(k), strings.TrimSpace(v)})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return u
}

// values returns every value of key in section.
func (u systemdUnit) values(section, key string) []string {
	var out []string
	for _, kv := range u[section] {
		if kv[0] == key {
			out = append(out, kv[1])
		}
	}
	return out
}

// one returns the single value of key in section, failing t if there is
// not exactly one.
func (u systemdUnit) one(t *testing.T, section, key string) string {
	t.Helper()
	vs := u.values(section, key)
	if len(vs) != 1 {
		t.Fatalf("[%s] %s: %q, want exactly one", section, key, vs)
	}
	return vs[0]
}

const unitPath = "../../deploy/concord.service"

// TestSystemdUnit checks deploy/concord.service (shown in
// docs/operations.md): `concord agent` accepts its ExecStart flags and its
// Environment= variables, the TLS ones commented out included, and the
// whole configuration passes the agent's own checks (nothing started);
// the data dir is the unit's StateDirectory; the settings the operations
// guide promises are there. Where systemd-analyze is installed, systemd
// itself verifies the file.
func TestSystemdUnit(t *testing.T) {
	for _, withTLS := range []bool{false, true} {
		u := parseUnit(t, unitPath, withTLS)
		exe := strings.Fields(u.one(t, "Service", "ExecStart"))
		if len(exe) < 2 || exe[0] != "/usr/local/bin/concord" || exe[1] != "agent" {
			t.Fatalf("ExecStart %q, want /usr/local/bin/concord agent ...", exe)
		}
		for _, a := range exe {
			if strings.ContainsAny(a, `"'$%`) {
				t.Fatalf("ExecStart argument %q: quoting and substitution are not checked by this test; keep the arguments plain", a)
			}
		}
		env := map[string]string{}
		for _, v := range u.values("Service", "Environment") {
			k, val, ok := strings.Cut(v, "=")
			if !ok || !strings.HasPrefix(k, envPrefix) {
				t.Fatalf("Environment=%s: want CONCORD_<FLAG>=value", v)
			}
			env[k] = val
		}
		o := &agentOptions{}
		cmd := newAgentCmdWith(o)
		if err := cmd.Flags().Parse(exe[2:]); err != nil {
			t.Fatalf("ExecStart flags: %v", err)
		}
		known := map[string]bool{}
		cmd.Flags().VisitAll(func(f *pflag.Flag) { known[envName(f.Name)] = true })
		for k := range env {
			if !known[k] {
				t.Errorf("Environment=%s=...: no agent flag reads it", k)
			}
		}
		if err := applyEnv(cmd.Flags(), func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
			t.Fatalf("Environment=: %v", err)
		}
		ac, err := o.buildConfig()
		if err != nil {
			t.Fatalf("the unit's agent configuration (TLS %t): %v", withTLS, err)
		}
		client, peer, err := o.tls.configs()
		if err != nil {
			t.Fatalf("the unit's TLS settings (TLS %t): %v", withTLS, err)
		}
		if client.ServerEnabled() != withTLS || peer.ServerEnabled() != withTLS || client.ClientCertAuth != withTLS || peer.ClientCertAuth != withTLS {
			t.Errorf("TLS %t: client port TLS %t (cert auth %t), peer port TLS %t (cert auth %t); the commented lines should turn both on, with certificate auth",
				withTLS, client.ServerEnabled(), client.ClientCertAuth, peer.ServerEnabled(), peer.ClientCertAuth)
		}
		if want := "/var/lib/" + u.one(t, "Service", "StateDirectory"); ac.node.DataDir != want {
			t.Errorf("--data-dir %q, want the StateDirectory %q, which systemd creates for User", ac.node.DataDir, want)
		}
		if len(ac.node.InitialCluster) != 3 {
			t.Errorf("--initial-cluster lists %d members, want a three-member example", len(ac.node.InitialCluster))
		}
	}

	u := parseUnit(t, unitPath, false)
	for _, kv := range [][2]string{{"Restart", "on-failure"}, {"RestartPreventExitStatus", "2"}, {"User", "concord"}, {"KillSignal", "SIGTERM"}} {
		if got := u.one(t, "Service", kv[0]); got != kv[1] {
			t.Errorf("%s=%s, want %s", kv[0], got, kv[1])
		}
	}
	if got := u.one(t, "Service", "LimitNOFILE"); got == "" {
		t.Errorf("LimitNOFILE is empty")
	}
	if vs := u.values("Service", "ExecReload"); len(vs) > 0 {
		t.Errorf("ExecReload=%q: certificates reload themselves (docs/security.md); a reload command would only restart", vs)
	}
	t.Run("systemd-analyze", func(t *testing.T) { verifyUnit(t) })
}

// verifyUnit runs systemd-analyze verify on a copy of the unit whose
// ExecStart names an executable that exists (this test binary: verify
// checks the path, not what it runs). verify exits 0 on most mistakes
// (an unknown key, a bad value) and only prints them, so any line naming
// the unit fails the test.
func verifyUnit(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed (Debian's systemd package)")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(raw), "ExecStart=/usr/local/bin/concord ", "ExecStart="+self+" ", 1)
	if text == string(raw) {
		t.Fatal("no ExecStart=/usr/local/bin/concord line to point at an existing binary")
	}
	unit := filepath.Join(t.TempDir(), "concord.service")
	if err := os.WriteFile(unit, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", unit).CombinedOutput()
	var complaints []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "concord.service") {
			complaints = append(complaints, line)
		}
	}
	if err != nil || len(complaints) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}
