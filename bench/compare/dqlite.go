package compare

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/concord-db/concord/bench"
)

// The dqlite baseline is Debian's go-dqlite package: dqlite-benchmark runs
// a three-node dqlite cluster on loopback (one process per node, each with
// its own data dir) and, on the driver node, --workers goroutines that
// each send `INSERT OR REPLACE INTO model(key, value) VALUES(?, ?)` of a
// new random key (the kvwrite workload: one single-row insert per request)
// through go-dqlite's database/sql driver and dqlite's own wire protocol,
// for --duration seconds. The driver writes one result file per worker;
// runDqlite parses them into a bench.Report so that dqlite's runs sit in
// the same table as concord's.

// dqliteRun is one dqlite-benchmark run.
type dqliteRun struct {
	Bin      string
	Dir      string
	Workers  int
	Duration time.Duration
}

// runDqlite starts three dqlite-benchmark nodes (the first the driver),
// waits for the driver to finish its workload, stops the other two and
// reads the driver's results.
func runDqlite(ctx context.Context, d dqliteRun) (*bench.Report, error) {
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	addrs := make([]string, 3)
	for i, p := range ports {
		addrs[i] = fmt.Sprintf("127.0.0.1:%d", p)
	}
	secs := max(1, int(d.Duration.Round(time.Second)/time.Second))
	c := &cluster{kind: ClusterDqlite}
	defer c.stop()
	for i, addr := range addrs {
		args := []string{"--db", addr, "-D", filepath.Join(d.Dir, fmt.Sprintf("d%d", i+1))}
		if i == 0 {
			args = append(args, "--driver", "--cluster", strings.Join(addrs, ","), "--workload", "kvwrite",
				"--duration", strconv.Itoa(secs), "--workers", strconv.Itoa(d.Workers), "--value-size", strconv.Itoa(bench.DefaultValueSize),
				"--cluster-timeout", "60")
		} else {
			args = append(args, "--join", addrs[0])
		}
		cmd, logf, err := startProc(d.Dir, fmt.Sprintf("dqlite%d", i+1), d.Bin, args...)
		if err != nil {
			return nil, err
		}
		c.procs, c.logs = append(c.procs, cmd), append(c.logs, logf)
	}
	driver := c.procs[0]
	done := make(chan error, 1)
	go func() { done <- driver.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		driver.Process.Kill()
		<-done
		return nil, ctx.Err()
	case <-time.After(d.Duration + 3*time.Minute):
		driver.Process.Kill()
		<-done
		return nil, fmt.Errorf("dqlite-benchmark driver still running %s after its duration; see %s", 3*time.Minute, c.logs[0].Name())
	}
	c.procs = c.procs[1:] // the driver has been waited for
	c.logs[0].Close()
	c.logs = c.logs[1:]
	if err != nil {
		return nil, fmt.Errorf("dqlite-benchmark driver: %w; see %s", err, filepath.Join(d.Dir, "dqlite1.log"))
	}
	files, err := filepath.Glob(filepath.Join(d.Dir, "d1", "*", "results", "*-exec-*"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no dqlite-benchmark result files under %s (%v)", filepath.Join(d.Dir, "d1"), err)
	}
	rep := &bench.Report{Workload: "dqlite kvwrite", Endpoints: addrs[:1], Clients: d.Workers, Conns: d.Workers,
		ValueSize: bench.DefaultValueSize, Seconds: float64(secs)}
	var lat []float64
	kinds := map[string]int64{}
	for _, f := range files {
		r, err := os.Open(f)
		if err != nil {
			return nil, err
		}
		res, err := parseDqliteResult(r)
		r.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		rep.Ops += res.n
		rep.Errors += res.nErr
		lat = append(lat, res.ms...)
		for k, v := range res.errs {
			kinds[k] += v
		}
	}
	rep.Throughput = float64(rep.Ops) / rep.Seconds
	rep.Latency = latencyOf(lat)
	if len(kinds) > 0 {
		rep.ErrorsByKind = kinds
	}
	return rep, nil
}

// dqliteResult is one worker's result file.
type dqliteResult struct {
	n, nErr int64
	ms      []float64 // latency of each successful request
	errs    map[string]int64
}

// parseDqliteResult reads a dqlite-benchmark result file:
//
//	n 173
//	n_err 7240
//	avg [ms] 4.034590
//	max [ms] 18.829437
//	min [ms] 0.979895
//	measurements [timestamp in ns] [ms]
//	1796362662708035402 2.944624
//	...
//	errors
//	1796362662652522599 database is locked
//
// and checks that the counts match the lines.
func parseDqliteResult(r io.Reader) (dqliteResult, error) {
	res := dqliteResult{errs: map[string]int64{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	section := "header"
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
			continue
		case strings.HasPrefix(line, "measurements"):
			section = "measurements"
			continue
		case line == "errors":
			section = "errors"
			continue
		}
		switch section {
		case "header":
			k, v, _ := strings.Cut(line, " ")
			var err error
			switch k {
			case "n":
				res.n, err = strconv.ParseInt(v, 10, 64)
			case "n_err":
				res.nErr, err = strconv.ParseInt(v, 10, 64)
			}
			if err != nil {
				return res, fmt.Errorf("line %q: %w", line, err)
			}
		case "measurements":
			_, v, ok := strings.Cut(line, " ")
			ms, err := strconv.ParseFloat(v, 64)
			if !ok || err != nil {
				return res, fmt.Errorf("measurement line %q", line)
			}
			res.ms = append(res.ms, ms)
		case "errors":
			_, msg, ok := strings.Cut(line, " ")
			if !ok {
				return res, fmt.Errorf("error line %q", line)
			}
			res.errs[msg]++
		}
	}
	if err := sc.Err(); err != nil {
		return res, err
	}
	var nerr int64
	for _, v := range res.errs {
		nerr += v
	}
	if int64(len(res.ms)) != res.n || nerr != res.nErr {
		return res, errors.New("counts do not match the measurement and error lines: truncated file?")
	}
	return res, nil
}

// latencyOf summarizes latencies given in milliseconds.
func latencyOf(ms []float64) bench.Latency {
	if len(ms) == 0 {
		return bench.Latency{}
	}
	s := slices.Clone(ms)
	slices.Sort(s)
	q := func(p float64) float64 { return s[min(len(s)-1, int(p*float64(len(s))))] }
	var sum float64
	for _, v := range s {
		sum += v
	}
	return bench.Latency{P50: q(0.50), P90: q(0.90), P99: q(0.99), P999: q(0.999), Max: s[len(s)-1], Mean: sum / float64(len(s))}
}
