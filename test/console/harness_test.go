package console

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
	"testing"
	"time"
)

// binary is the concord binary built by TestMain.
var binary string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	if findBrowser() == "" && os.Getenv("CI") == "" {
		return m.Run() // every test skips: no need for the binary
	}
	dir, err := os.MkdirTemp("", "concord-console-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "concord")
	wd, _ := os.Getwd()
	build := exec.Command("go", "build", "-o", binary, "./cmd/concord")
	build.Dir = filepath.Join(wd, "..", "..")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "building concord: %v\n", err)
		return 1
	}
	defer stopChrome()
	return m.Run()
}

// member is one concord agent process.
type member struct {
	t          *testing.T
	id         string
	dir        string
	clientAddr string
	peerAddr   string
	log        *syncBuffer
	cmd        *exec.Cmd
	done       chan struct{}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startCluster starts n members forming a new cluster with
// --initial-cluster, and stops them (SIGKILL) when the test ends.
func startCluster(t *testing.T, n int) []*member {
	var ms []*member
	var peers []string
	for i := 1; i <= n; i++ {
		m := &member{t: t, id: fmt.Sprintf("n%d", i), dir: t.TempDir(), clientAddr: freeAddr(t), peerAddr: freeAddr(t), log: &syncBuffer{}}
		ms = append(ms, m)
		peers = append(peers, m.id+"="+m.peerAddr)
	}
	for _, m := range ms {
		m.cmd = exec.Command(binary, "agent", "--node-id", m.id, "--data-dir", filepath.Join(m.dir, "data"),
			"--client-addr", m.clientAddr, "--peer-addr", m.peerAddr, "--initial-cluster", strings.Join(peers, ","))
		m.cmd.Stdout, m.cmd.Stderr = m.log, m.log
		m.cmd.Env = cleanEnv()
		if err := m.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		m.done = make(chan struct{})
		go func() { m.cmd.Wait(); close(m.done) }()
		t.Cleanup(func() {
			m.kill()
			if t.Failed() {
				t.Logf("==== log of %s ====\n%s", m.id, m.log.String())
			}
		})
	}
	return ms
}

// cleanEnv is the environment without CONCORD_* variables.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CONCORD_") {
			env = append(env, kv)
		}
	}
	return env
}

// kill sends SIGKILL and waits for the process to go.
func (m *member) kill() {
	select {
	case <-m.done:
		return
	default:
	}
	m.cmd.Process.Kill()
	<-m.done
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

// call sends a request to the member's client port and decodes a 2xx JSON
// answer into out.
func (m *member) call(method, path, body string, out any) error {
	req, err := http.NewRequest(method, "http://"+m.clientAddr+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s on %s: HTTP %d: %s", method, path, m.id, resp.StatusCode, bytes.TrimSpace(raw))
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// waitFor polls cond until it returns nil or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s: %v", timeout, what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitLeader waits until every member is ready and they agree on one
// leader, and returns it.
func waitLeader(t *testing.T, ms []*member) *member {
	t.Helper()
	var leader *member
	waitFor(t, 60*time.Second, "one leader", func() error {
		leader = nil
		var leaderID string
		for _, m := range ms {
			if err := m.call("GET", "/readyz", "", nil); err != nil {
				return err
			}
			var st struct {
				ID       string `json:"id"`
				LeaderID string `json:"leader_id"`
			}
			if err := m.call("GET", "/v1/status", "", &st); err != nil {
				return err
			}
			if st.LeaderID == "" || (leaderID != "" && st.LeaderID != leaderID) {
				return fmt.Errorf("%s follows %q, others %q", m.id, st.LeaderID, leaderID)
			}
			leaderID = st.LeaderID
		}
		for _, m := range ms {
			if m.id == leaderID {
				leader = m
			}
		}
		if leader == nil {
			return errors.New("the leader is not among the members asked")
		}
		return nil
	})
	return leader
}

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
