package compare

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// cluster is three member processes of one kind (etcd or concord).
type cluster struct {
	kind       string // ClusterEtcd, ClusterConcord or ClusterBaseline
	procs      []*exec.Cmd
	endpoints  []string
	pprofAddrs []string // concord with profiling only
	logs       []*os.File
}

// freePorts reserves n free loopback ports (released before use; fine on
// a machine that is not racing us for ports).
func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func startProc(dir, name string, bin string, args ...string) (*exec.Cmd, *os.File, error) {
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Own process group (a Ctrl-C reaches us, and we stop the members in
	// order); killed by the kernel if we die without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, nil, fmt.Errorf("start %s: %w", bin, err)
	}
	return cmd, logf, nil
}

// startEtcd starts a three-member etcd with its data under dir, fsync on
// (etcd's default; --unsafe-no-fsync is not set).
func startEtcd(bin, dir string) (*cluster, error) {
	ports, err := freePorts(6)
	if err != nil {
		return nil, err
	}
	c := &cluster{kind: "etcd"}
	var initial []string
	for i := range 3 {
		initial = append(initial, fmt.Sprintf("e%d=http://127.0.0.1:%d", i+1, ports[3+i]))
	}
	for i := range 3 {
		name := fmt.Sprintf("e%d", i+1)
		client := fmt.Sprintf("http://127.0.0.1:%d", ports[i])
		peer := fmt.Sprintf("http://127.0.0.1:%d", ports[3+i])
		cmd, logf, err := startProc(dir, name, bin,
			"--name", name, "--data-dir", filepath.Join(dir, name),
			"--listen-client-urls", client, "--advertise-client-urls", client,
			"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-token", "bench-compare",
			"--initial-cluster-state", "new", "--quota-backend-bytes", strconv.Itoa(8<<30),
			"--logger", "zap", "--log-level", "warn")
		if err != nil {
			c.stop()
			return nil, err
		}
		c.procs, c.logs = append(c.procs, cmd), append(c.logs, logf)
		c.endpoints = append(c.endpoints, strings.TrimPrefix(client, "http://"))
	}
	return c, nil
}

// startConcord starts a three-member concord with its data under dir.
// With profile set, the members run as `concord bench agent` (the same
// agent plus a pprof listener).
func startConcord(bin, dir string, profile bool) (*cluster, error) {
	ports, err := freePorts(9)
	if err != nil {
		return nil, err
	}
	c := &cluster{kind: "concord"}
	var initial []string
	for i := range 3 {
		initial = append(initial, fmt.Sprintf("c%d=127.0.0.1:%d", i+1, ports[3+i]))
	}
	for i := range 3 {
		name := fmt.Sprintf("c%d", i+1)
		client := fmt.Sprintf("127.0.0.1:%d", ports[i])
		args := []string{"agent"}
		if profile {
			pp := fmt.Sprintf("127.0.0.1:%d", ports[6+i])
			args = []string{"bench", "agent", "--pprof-addr", pp}
			c.pprofAddrs = append(c.pprofAddrs, pp)
		}
		args = append(args, "--node-id", name, "--data-dir", filepath.Join(dir, name),
			"--client-addr", client, "--peer-addr", fmt.Sprintf("127.0.0.1:%d", ports[3+i]),
			"--initial-cluster", strings.Join(initial, ","), "--log-level", "warn")
		cmd, logf, err := startProc(dir, name, bin, args...)
		if err != nil {
			c.stop()
			return nil, err
		}
		c.procs, c.logs = append(c.procs, cmd), append(c.logs, logf)
		c.endpoints = append(c.endpoints, client)
	}
	return c, nil
}

// waitReady waits until every member answers and a linearizable read
// (which needs a leader) succeeds.
func (c *cluster) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for _, ep := range c.endpoints {
		for {
			err := probe(ctx, ep)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s member %s not ready after %s: %w", c.kind, ep, timeout, err)
			}
			for i, p := range c.procs {
				if p.ProcessState != nil || processGone(p.Process.Pid) {
					return fmt.Errorf("%s member %d exited; see its log %s", c.kind, i+1, c.logs[i].Name())
				}
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return nil
}

func processGone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	f := statFields(string(b))
	return len(f) > 0 && f[0] == "Z"
}

func probe(ctx context.Context, ep string) error {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{ep}, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return err
	}
	defer cli.Close()
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	_, err = cli.Get(pctx, "bench-ready")
	return err
}

// client opens a client of all members.
func (c *cluster) client() (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{Endpoints: c.endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
}

// compact compacts the history up to the current revision, so that runs
// do not inherit each other's history.
func (c *cluster) compact(ctx context.Context) error {
	cli, err := c.client()
	if err != nil {
		return err
	}
	defer cli.Close()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := cli.Get(cctx, "bench-compact")
	if err != nil {
		return err
	}
	_, err = cli.Compact(cctx, resp.Header.Revision, clientv3.WithCompactPhysical())
	return err
}

// stop stops every member (SIGTERM, then SIGKILL after 15s) and waits.
func (c *cluster) stop() {
	for _, p := range c.procs {
		p.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range c.procs {
		done := make(chan struct{})
		go func() { p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			p.Process.Kill()
			<-done
		}
	}
	for _, f := range c.logs {
		f.Close()
	}
	c.procs = nil
}

// cpuSeconds is the user+system CPU time of all members so far.
func (c *cluster) cpuSeconds() float64 {
	var total float64
	for _, p := range c.procs {
		total += procCPU(p.Process.Pid)
	}
	return total
}

// clockTicks is USER_HZ, 100 on every Linux platform Go supports.
const clockTicks = 100

func statFields(stat string) []string {
	// The command name is in parentheses and may contain spaces.
	if i := strings.LastIndexByte(stat, ')'); i >= 0 {
		stat = stat[i+1:]
	}
	return strings.Fields(stat)
}

// procCPU is utime+stime of a process, in seconds.
func procCPU(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads utime and stime (fields 14 and 15 of /proc/PID/stat).
func parseStatCPU(stat string) float64 {
	f := statFields(stat) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / clockTicks
}

// procMem is a process's memory from /proc/PID/status, in KiB.
type procMem struct {
	RSS, HWM int64 // VmRSS, VmHWM (peak RSS)
	// Anon is RssAnon: heap and stacks, as opposed to file pages mapped
	// (etcd's bbolt database is mmapped: its RSS counts the file pages it
	// touched, which the kernel can reclaim).
	Anon int64
}

func memKB(pid int) procMem {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procMem{}
	}
	return parseStatus(string(b))
}

func parseStatus(s string) procMem {
	var m procMem
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			m.RSS = n
		case "VmHWM":
			m.HWM = n
		case "RssAnon":
			m.Anon = n
		}
	}
	return m
}

// mem returns each member's VmRSS, VmHWM and RssAnon, in MiB.
func (c *cluster) mem() (rss, hwm, anon []float64) {
	for _, p := range c.procs {
		m := memKB(p.Process.Pid)
		rss, hwm, anon = append(rss, float64(m.RSS)/1024), append(hwm, float64(m.HWM)/1024), append(anon, float64(m.Anon)/1024)
	}
	return rss, hwm, anon
}
