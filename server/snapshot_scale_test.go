package server_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/concord-db/concord/agent"
	"github.com/concord-db/concord/agent/agenttest"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestSnapshotAtScale loads a large kv state into a three-member cluster
// while one member is down, takes a snapshot while writes continue
// (measuring how long apply stalls), brings the far-behind member back so
// that it catches up by installing a snapshot, and checks retention. It
// reports peak memory (sampled heap, and VmHWM, reset per phase) of the
// whole test process, which runs all three members. Last it restores the
// archive it took through a follower and checks every member has its state.
//
// The state size is CONCORD_SCALE_MB (default 48 MiB, 8 MiB under -short;
// docs/snapshots.md gives the numbers of a 1 GiB run:
// CONCORD_SCALE_MB=1024 go test ./server -run TestSnapshotAtScale -v -timeout 60m).
func TestSnapshotAtScale(t *testing.T) {
	mb := 48
	if testing.Short() {
		mb = 8
	}
	if v := os.Getenv("CONCORD_SCALE_MB"); v != "" {
		var err error
		if mb, err = strconv.Atoi(v); err != nil {
			t.Fatalf("CONCORD_SCALE_MB=%q: %v", v, err)
		}
	}
	const (
		valueSize    = 256 << 10
		maxSnapshots = 2
		trailing     = 64
	)
	dirs := make([]string, 3)
	c := agenttest.Start(t, 3, agenttest.Options{Timeout: time.Second, Configure: func(i int, cfg *agent.Config) {
		cfg.Node.SnapshotThreshold = 256
		cfg.Node.SnapshotInterval = 500 * time.Millisecond
		cfg.Node.TrailingLogs = trailing
		cfg.Node.MaxSnapshots = maxSnapshots
		cfg.Node.ApplyTimeout = 30 * time.Second
		cfg.Node.LeaderTimeout = 60 * time.Second
		cfg.Limits.MaxRequestBytes = 2 * valueSize
		cfg.Snapshot.TempDir = t.TempDir()
		dirs[i] = cfg.Node.DataDir
	}})
	leader := c.Leader()
	lagger := c.Follower()
	behind := c.Agent(lagger).Node.Status().LastLogIndex
	c.Crash(lagger)
	others := []int{}
	for i := range 3 {
		if i != lagger {
			others = append(others, i)
		}
	}
	cli := c.ClientWith(clientv3.Config{MaxCallSendMsgSize: 4 * valueSize}, others...)

	// Load.
	start := time.Now()
	n := mb << 20 / valueSize
	var next atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	// Incompressible values, so that the archive is as large as the state.
	noise := make([]byte, 2*valueSize)
	rand.NewChaCha8([32]byte{1}).Read(noise)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				off := int(i*7919) % valueSize
				_, err := cli.Put(ctx, fmt.Sprintf("big/%07d", i), string(noise[off:off+valueSize]))
				cancel()
				if err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errc:
		t.Fatalf("load: %v", err)
	default:
	}
	load := time.Since(start)
	t.Logf("loaded %d values of %d KiB (%d MiB) in %s (%.1f MiB/s)", n, valueSize>>10, mb, load.Round(time.Millisecond), float64(mb)/load.Seconds())
	base := memNow()
	t.Logf("after load: %s", base)

	// A snapshot while writes continue: the prober measures how long a
	// small write takes before and during it.
	probe := newProber(cli)
	probe.run(2 * time.Second)
	before := probe.stats()
	resetHWM()
	mem := sampleMem()
	probe.start()
	snapStart := time.Now()
	resp, err := http.Get("http://" + c.Endpoint(leader) + "/v1/snapshot")
	if err != nil {
		t.Fatal(err)
	}
	archivePath := filepath.Join(t.TempDir(), "scale.snap")
	archive, err := os.Create(archivePath)
	if err != nil {
		t.Fatal(err)
	}
	size, err := io.Copy(archive, resp.Body)
	resp.Body.Close()
	if cerr := archive.Close(); err == nil {
		err = cerr
	}
	if err != nil || resp.StatusCode != 200 || resp.Trailer.Get("X-Concord-Snapshot-Checksum") == "" {
		t.Fatalf("snapshot: HTTP %d, %d bytes, %v", resp.StatusCode, size, err)
	}
	snapTook := time.Since(snapStart)
	during := probe.stopAndStats()
	snapMem := mem.stop()
	t.Logf("snapshot archive of %d MiB streamed in %s; peak during it: %s", size>>20, snapTook.Round(time.Millisecond), snapMem)
	t.Logf("write latency before the snapshot: %s", before)
	t.Logf("write latency during the snapshot: %s", during)

	// The leader has compacted its log past the lagging member's last
	// entry, so that member must install a snapshot.
	c.WaitFor(time.Minute, "the leader to compact its log", func() bool {
		return snapshotIndex(t, dirs[leader]) > behind+trailing+1
	})
	target := c.Agent(leader).Node.AppliedIndex()
	resetHWM()
	mem = sampleMem()
	installStart := time.Now()
	c.Restart(lagger)
	c.WaitFor(10*time.Minute, "the lagging member to catch up", func() bool {
		a := c.Agent(lagger)
		return a != nil && a.Node.AppliedIndex() >= target
	})
	installTook := time.Since(installStart)
	installMem := mem.stop()
	t.Logf("far-behind member caught up (log at %d, leader at %d) in %s; peak during it: %s", behind, target, installTook.Round(time.Millisecond), installMem)
	for i := range 3 {
		if got := snapshotIndex(t, dirs[i]); i == lagger && got < target-trailing-256 {
			t.Fatalf("member %d holds snapshot %d after catching up, want one near %d", i, got, target)
		}
	}
	hashes := map[uint32]bool{}
	for i := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		r, err := c.Client(i).HashKV(ctx, c.Endpoint(i), 0)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		hashes[r.Hash] = true
	}
	if len(hashes) != 1 {
		t.Fatalf("members disagree after the install: %v", hashes)
	}

	// Retention: after more snapshots, at most MaxSnapshots remain.
	for range 3 {
		if _, err := cli.Put(context.Background(), "tick", time.Now().String()); err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get("http://" + c.Endpoint(leader) + "/v1/snapshot")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	for i, d := range dirs {
		if got := len(snapshotDirs(t, d)); got > maxSnapshots || got == 0 {
			t.Fatalf("member %d keeps %d snapshots, want 1..%d", i, got, maxSnapshots)
		}
	}

	// Restore the archive taken above through a follower: every member
	// ends with its state (the key written since is gone, every loaded
	// value is back) and they agree.
	if _, err := cli.Put(context.Background(), "after-archive", "x"); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(archivePath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	resetHWM()
	mem = sampleMem()
	restoreStart := time.Now()
	rresp, err := http.Post("http://"+c.Endpoint(c.Follower())+"/v1/snapshot/restore", "application/octet-stream", f)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(rresp.Body)
	rresp.Body.Close()
	if rresp.StatusCode != http.StatusOK {
		t.Fatalf("restore: HTTP %d: %s", rresp.StatusCode, body)
	}
	restoreTook := time.Since(restoreStart)
	restoreMem := mem.stop()
	t.Logf("restore of the %d MiB archive through a follower took %s; peak during it: %s", size>>20, restoreTook.Round(time.Millisecond), restoreMem)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if got, err := cli.Get(ctx, "after-archive"); err != nil || got.Count != 0 {
		t.Fatalf("after the restore, a key written after the archive: %v, %v", got, err)
	}
	if got, err := cli.Get(ctx, "big/", clientv3.WithPrefix(), clientv3.WithCountOnly()); err != nil || got.Count != int64(n) {
		t.Fatalf("after the restore, big/ holds %v keys (%v), want %d", got, err, n)
	}
	c.WaitFor(5*time.Minute, "every member to agree after the restore", func() bool {
		hashes := map[uint32]bool{}
		for i := range 3 {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			r, err := c.Client(i).HashKV(ctx, c.Endpoint(i), 0)
			cancel()
			if err != nil {
				return false
			}
			hashes[r.Hash] = true
		}
		return len(hashes) == 1
	})
}

// snapshotDirs lists a member's snapshot directories (term-index-time).
func snapshotDirs(t *testing.T, dataDir string) []string {
	es, err := os.ReadDir(filepath.Join(dataDir, "snapshots"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		if e.IsDir() && !strings.HasSuffix(e.Name(), ".tmp") {
			out = append(out, e.Name())
		}
	}
	return out
}

// snapshotIndex is the newest snapshot's index in a member's data dir.
func snapshotIndex(t *testing.T, dataDir string) uint64 {
	var best uint64
	for _, name := range snapshotDirs(t, dataDir) {
		parts := strings.Split(name, "-")
		if len(parts) == 3 {
			if idx, err := strconv.ParseUint(parts[1], 10, 64); err == nil && idx > best {
				best = idx
			}
		}
	}
	return best
}

// prober writes one small key after another and records the latencies.
type prober struct {
	cli  *clientv3.Client
	mu   sync.Mutex
	lat  []time.Duration
	stop chan struct{}
	done chan struct{}
}

func newProber(cli *clientv3.Client) *prober { return &prober{cli: cli} }

func (p *prober) start() {
	p.mu.Lock()
	p.lat = nil
	p.mu.Unlock()
	p.stop, p.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(p.done)
		for i := 0; ; i++ {
			select {
			case <-p.stop:
				return
			default:
			}
			t0 := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			_, err := p.cli.Put(ctx, "probe", strconv.Itoa(i))
			cancel()
			if err == nil {
				p.mu.Lock()
				p.lat = append(p.lat, time.Since(t0))
				p.mu.Unlock()
			}
		}
	}()
}

func (p *prober) run(d time.Duration) {
	p.start()
	time.Sleep(d) // a measurement window, not a wait for a condition
	close(p.stop)
	<-p.done
}

func (p *prober) stats() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := append([]time.Duration(nil), p.lat...)
	if len(l) == 0 {
		return "no writes"
	}
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	return fmt.Sprintf("%d writes, p50 %s, p99 %s, max %s", len(l), l[len(l)/2].Round(time.Microsecond),
		l[len(l)*99/100].Round(time.Microsecond), l[len(l)-1].Round(time.Microsecond))
}

func (p *prober) stopAndStats() string {
	close(p.stop)
	<-p.done
	return p.stats()
}

// memSampler samples the Go heap every 20ms and reads VmHWM at the end.
type memSampler struct {
	stopc    chan struct{}
	done     chan struct{}
	peakHeap uint64
	peakSys  uint64
}

func sampleMem() *memSampler {
	m := &memSampler{stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			m.peakHeap = max(m.peakHeap, ms.HeapInuse)
			m.peakSys = max(m.peakSys, ms.Sys)
			select {
			case <-m.stopc:
				return
			case <-t.C:
			}
		}
	}()
	return m
}

func (m *memSampler) stop() string {
	close(m.stopc)
	<-m.done
	return fmt.Sprintf("heap in use %d MiB, Go sys %d MiB, VmHWM %s", m.peakHeap>>20, m.peakSys>>20, procStatus("VmHWM"))
}

func memNow() string {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return fmt.Sprintf("heap in use %d MiB (live after GC), VmRSS %s", ms.HeapInuse>>20, procStatus("VmRSS"))
}

// resetHWM resets the process's peak RSS (Linux: clear_refs 5).
func resetHWM() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

func procStatus(field string) string {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return "n/a"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && k == field {
			return strings.TrimSpace(v)
		}
	}
	return "n/a"
}
