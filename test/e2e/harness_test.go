// Package e2e runs the real concord binary as separate processes on
// loopback: clusters formed in each supported way, kill -9 and restart,
// removal, and dev mode. TestMain builds the binary once.
package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/concord-db/concord/server"
)

// binary is the concord binary built by TestMain.
var binary string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "concord-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "concord")
	build := exec.Command("go", "build", "-o", binary, "./cmd/concord")
	build.Dir = repoRoot()
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "building concord: %v\n", err)
		return 1
	}
	return m.Run()
}

// repoRoot is the module root (this package is test/e2e).
func repoRoot() string {
	wd, _ := os.Getwd()
	return filepath.Join(wd, "..", "..")
}

// Deadlines of the waits. Generous: the race detector and a shared 2-core
// machine slow elections down; a wait ends as soon as its condition holds.
const (
	readyTimeout  = 90 * time.Second
	leaderTimeout = 60 * time.Second
	exitTimeout   = 60 * time.Second
)

var (
	portsMu sync.Mutex
	ports   = map[string]bool{}
)

// freeAddr returns a loopback address whose port was free a moment ago and
// was not handed out before in this test binary.
func freeAddr(t *testing.T) string {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		if !ports[addr] {
			ports[addr] = true
			return addr
		}
	}
}

// agent is one concord agent process (across restarts).
type agent struct {
	t          *testing.T
	id         string
	dir        string // working directory; the data dir is dir/data
	clientAddr string
	peerAddr   string
	log        *syncBuffer // stdout and stderr of every run
	stdout     *syncBuffer // stdout of the current run

	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{}
	exitCode int
	runs     int
}

func newAgent(t *testing.T, id string) *agent {
	a := &agent{t: t, id: id, dir: t.TempDir(), clientAddr: freeAddr(t), peerAddr: freeAddr(t), log: &syncBuffer{}}
	t.Cleanup(func() {
		a.kill()
		if t.Failed() {
			t.Logf("==== log of %s ====\n%s", a.id, a.log.String())
		}
	})
	return a
}

func (a *agent) dataDir() string { return filepath.Join(a.dir, "data") }

// nodeArgs are the flags every run of a cluster agent gets.
func (a *agent) nodeArgs() []string {
	return []string{"agent", "--node-id", a.id, "--data-dir", a.dataDir(),
		"--client-addr", a.clientAddr, "--peer-addr", a.peerAddr}
}

// start runs the binary with args (the full command line after "concord").
func (a *agent) start(args ...string) {
	a.t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.done != nil {
		select {
		case <-a.done:
		default:
			a.t.Fatalf("%s: start while still running", a.id)
		}
	}
	a.runs++
	fmt.Fprintf(a.log, "=== run %d: concord %s\n", a.runs, strings.Join(args, " "))
	a.stdout = &syncBuffer{}
	cmd := exec.Command(binary, args...)
	cmd.Dir = a.dir
	cmd.Stdout = io.MultiWriter(a.log, a.stdout)
	cmd.Stderr = a.log
	cmd.Env = cleanEnv()
	if err := cmd.Start(); err != nil {
		a.t.Fatalf("%s: start: %v", a.id, err)
	}
	done := make(chan struct{})
	a.cmd, a.done = cmd, done
	go func() {
		err := cmd.Wait()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			code = -1
		}
		a.mu.Lock()
		a.exitCode = code
		a.mu.Unlock()
		fmt.Fprintf(a.log, "=== run %d exited: %v\n", a.runs, err)
		close(done)
	}()
}

// cleanEnv is the environment without CONCORD_* variables, so a developer's
// settings do not leak into the agents.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CONCORD_") {
			env = append(env, kv)
		}
	}
	return env
}

func (a *agent) running() bool {
	a.mu.Lock()
	done := a.done
	a.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL and waits for the process to go.
func (a *agent) kill() {
	a.mu.Lock()
	cmd, done := a.cmd, a.done
	a.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	cmd.Process.Kill()
	<-done
}

func (a *agent) signal(sig os.Signal) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.cmd.Process.Signal(sig); err != nil {
		a.t.Fatalf("%s: signal %v: %v", a.id, sig, err)
	}
}

// waitExit waits for the process to exit and returns its exit code.
func (a *agent) waitExit(timeout time.Duration) int {
	a.t.Helper()
	a.mu.Lock()
	done := a.done
	a.mu.Unlock()
	select {
	case <-done:
	case <-time.After(timeout):
		a.t.Fatalf("%s did not exit within %s", a.id, timeout)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.exitCode
}

// stop sends SIGTERM and expects a clean exit.
func (a *agent) stop() {
	a.t.Helper()
	a.signal(syscall.SIGTERM)
	if code := a.waitExit(exitTimeout); code != 0 {
		a.t.Fatalf("%s exited with code %d after SIGTERM, want 0", a.id, code)
	}
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

// call sends a request to the agent's client port and decodes a 2xx
// answer into out. It returns the status code.
func (a *agent) call(method, path string, in, out any) (int, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+a.clientAddr+path, body)
	if err != nil {
		return 0, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("%s %s on %s: HTTP %d: %s", method, path, a.id, resp.StatusCode, bytes.TrimSpace(raw))
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s on %s: %v: %s", method, path, a.id, err, raw)
		}
	}
	return resp.StatusCode, nil
}

func (a *agent) status() (server.StatusResponse, error) {
	var st server.StatusResponse
	_, err := a.call("GET", "/v1/status", nil, &st)
	return st, err
}

func (a *agent) members() ([]server.MemberResponse, error) {
	var ms server.MembersResponse
	_, err := a.call("GET", "/v1/members", nil, &ms)
	return ms.Members, err
}

// waitFor polls cond until it returns nil or timeout passes, then fails the
// test with cond's last error.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	delay := 50 * time.Millisecond
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s: %v", timeout, what, err)
		}
		time.Sleep(delay)
		delay = min(2*delay, 500*time.Millisecond)
	}
}

func waitReady(t *testing.T, agents ...*agent) {
	t.Helper()
	for _, a := range agents {
		waitFor(t, readyTimeout, a.id+" ready", func() error {
			if !a.running() {
				return errors.New("process is not running")
			}
			_, err := a.call("GET", "/readyz", nil, nil)
			return err
		})
	}
}

// waitOneLeader waits until every agent reports the same leader, that
// leader reports itself Leader, and the leader is one of agents. It
// returns the leader.
func waitOneLeader(t *testing.T, agents ...*agent) *agent {
	t.Helper()
	var leader *agent
	waitFor(t, leaderTimeout, "one leader", func() error {
		leader = nil
		var leaderID string
		for _, a := range agents {
			st, err := a.status()
			if err != nil {
				return err
			}
			if st.LeaderID == "" {
				return fmt.Errorf("%s knows no leader", a.id)
			}
			if leaderID != "" && st.LeaderID != leaderID {
				return fmt.Errorf("%s follows %s, others %s", a.id, st.LeaderID, leaderID)
			}
			leaderID = st.LeaderID
			if st.State == "Leader" {
				if leader != nil {
					return fmt.Errorf("two leaders: %s and %s", leader.id, a.id)
				}
				if st.ID != leaderID {
					return fmt.Errorf("%s is Leader but reports leader %s", a.id, leaderID)
				}
				leader = a
			}
		}
		if leader == nil {
			return fmt.Errorf("leader %s is not among the agents asked", leaderID)
		}
		return nil
	})
	return leader
}

// runCLI runs the binary as a client command and returns its stdout.
func runCLI(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = cleanEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("concord %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
