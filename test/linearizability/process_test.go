package linearizability

import (
	"context"
	"fmt"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The process level runs the real binary, one process per member on
// loopback, and injects kill -9 and restart, SIGSTOP/SIGCONT, leadership
// transfers, and kill -9 of every member at once (the durability check).

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// concordBinary builds the binary once per test binary run.
func concordBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "concord-lin-")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "concord")
		cmd := exec.Command("go", "build", "-o", binary, "./cmd/concord")
		wd, _ := os.Getwd()
		cmd.Dir = filepath.Join(wd, "..", "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

// process is one agent process (across restarts).
type process struct {
	t          *testing.T
	bin        string
	id, dir    string
	clientAddr string
	peerAddr   string
	cluster    string // --initial-cluster, if set
	extra      []string
	// onStart, if set, is told the PID of each start (the fault proxy
	// recognises a member's connections by it).
	onStart func(pid int)
	log     *os.File

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

func (p *process) ID() string         { return p.id }
func (p *process) ClientAddr() string { return p.clientAddr }

func (p *process) Start(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done != nil {
		select {
		case <-p.done:
		default:
			return fmt.Errorf("%s is running", p.id)
		}
	}
	args := []string{"agent", "--node-id", p.id, "--data-dir", filepath.Join(p.dir, "data"),
		"--client-addr", p.clientAddr, "--peer-addr", p.peerAddr,
		"--heartbeat-timeout", "1s", "--election-timeout", "1s", "--log-level", "warn"}
	if p.cluster != "" {
		args = append(args, "--initial-cluster", p.cluster)
	}
	cmd := exec.Command(p.bin, append(args, p.extra...)...)
	cmd.Stdout, cmd.Stderr = p.log, p.log
	cmd.Env = cleanEnv()
	fmt.Fprintf(p.log, "=== start %s\n", time.Now().Format(time.StampMilli))
	if err := cmd.Start(); err != nil {
		return err
	}
	if p.onStart != nil {
		p.onStart(cmd.Process.Pid)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	p.cmd, p.done = cmd, done
	return nil
}

func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CONCORD_") {
			env = append(env, kv)
		}
	}
	return env
}

func (p *process) signal(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return fmt.Errorf("%s never started", p.id)
	}
	return p.cmd.Process.Signal(sig)
}

func (p *process) Kill() error {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return nil
	}
	cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-done:
		fmt.Fprintf(p.log, "=== killed %s\n", time.Now().Format(time.StampMilli))
		return nil
	case <-time.After(30 * time.Second):
		return fmt.Errorf("%s did not die after SIGKILL", p.id)
	}
}

func (p *process) Pause() error      { return p.signal(syscall.SIGSTOP) }
func (p *process) Resume() error     { return p.signal(syscall.SIGCONT) }
func (p *process) Disconnect() error { return ErrUnsupported }
func (p *process) Connect() error    { return ErrUnsupported }

// freePort returns a loopback address free now, for a process to listen
// on later (again after each restart). It is taken below Linux's ephemeral
// range (32768-60999 by default): a port from that range, released here,
// can be taken meanwhile as the local port of any outgoing connection (the
// agents and clients of this and other test runs make many), and the agent
// then fails with "address already in use".
func freePort(t *testing.T) string {
	for range 100 {
		port := 15000 + rand.Intn(17000)
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			ln.Close()
			return ln.Addr().String()
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startProcesses starts n agents with --initial-cluster and waits until
// they are ready and one leads.
func startProcesses(t *testing.T, n int) *External {
	bin := concordBinary(t)
	var procs []*process
	var peers []string
	for i := range n {
		p := &process{t: t, bin: bin, id: fmt.Sprintf("p%d", i+1), dir: t.TempDir(), clientAddr: freePort(t), peerAddr: freePort(t)}
		var err error
		if p.log, err = os.Create(filepath.Join(p.dir, "agent.log")); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
		peers = append(peers, p.id+"="+p.peerAddr)
	}
	for _, p := range procs {
		p.cluster = strings.Join(peers, ",")
	}
	return launchProcesses(t, procs)
}

// launchProcesses starts procs (configured), kills them when t ends
// (printing their logs if it failed), and waits until they are ready and
// one leads.
func launchProcesses(t *testing.T, procs []*process) *External {
	var members []Member
	for _, p := range procs {
		members = append(members, p)
	}
	e := NewExternal(members...)
	t.Cleanup(func() {
		for _, p := range procs {
			p.Resume()
			p.Kill()
			if t.Failed() {
				b, _ := os.ReadFile(p.log.Name())
				t.Logf("==== log of %s ====\n%s", p.id, b)
			}
			p.log.Close()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for _, p := range procs {
		if err := p.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Heal(ctx); err != nil {
		t.Fatalf("process cluster did not start: %v", err)
	}
	return e
}

// processScenarios are the process-level fault mixes.
var processScenarios = []struct {
	name   string
	faults []FaultKind
}{
	{"kill-pause", []FaultKind{Crash, Pause, TransferLeader}},
	{"kill-all", []FaultKind{KillAll, Crash, Pause}},
}

// TestProcesses runs the process-level scenarios against three agent
// processes on loopback; every run ends with kill -9 of every member and a
// restart, after which every acknowledged write must still be there.
func TestProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the process level needs a build of the binary and takes a minute or more")
	}
	k := RunKnobs(2, 12*time.Second)
	t.Logf("processes: %d seeds from %d, %s each (CONCORD_SEED=%d replays)", k.Seeds, k.Seed, k.Duration, k.Seed)
	for _, sc := range processScenarios {
		for i := range k.Seeds {
			seed := k.Seed + int64(i)
			t.Run(fmt.Sprintf("%s/seed=%d", sc.name, seed), func(t *testing.T) {
				e := startProcesses(t, 3)
				s := Scenario{Name: "process-" + sc.name + fmt.Sprintf("-seed%d", seed), Seed: seed, Duration: k.Duration,
					Faults: sc.faults, CrashAllAtEnd: true, FaultFor: [2]time.Duration{time.Second, 4 * time.Second},
					FaultGap: [2]time.Duration{time.Second, 3 * time.Second}, Workload: Workload{OpTimeout: 3 * time.Second, LockTTL: 3}}
				Run(t, s, e)
			})
		}
	}
}
