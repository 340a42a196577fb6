package compare

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// Summary is the medians of one workload on one cluster.
type Summary struct {
	Runs       int
	Throughput float64
	P50, P99   float64 // ms; put→event latency for watch
	CPUPer10k  float64 // CPU seconds of all members per 10k operations
	Errors     int64
}

// Summarize takes the median over the successful runs of a workload on a
// cluster.
func Summarize(runs []Run, workload, cluster string) Summary {
	var tput, p50, p99, cpu []float64
	var s Summary
	for _, r := range runs {
		if r.Workload != workload || r.Cluster != cluster || r.Report == nil {
			continue
		}
		s.Runs++
		rep := r.Report
		lat := rep.Latency
		if rep.Watch != nil {
			lat = rep.Watch.Latency
		}
		tput, p50, p99 = append(tput, rep.Throughput), append(p50, lat.P50), append(p99, lat.P99)
		if r.Ops > 0 {
			cpu = append(cpu, r.CPUSeconds/float64(r.Ops)*10000)
		}
		s.Errors += rep.Errors
	}
	s.Throughput, s.P50, s.P99, s.CPUPer10k = median(tput), median(p50), median(p99), median(cpu)
	return s
}

// ratio is concord/baseline, or "–" when either is missing.
func ratio(concord, baseline float64) string {
	if baseline == 0 || concord == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", concord/baseline)
}

// WriteTable writes the comparison as Markdown tables. The baseline column
// is etcd, or the baseline concord build named by res.BaselineLabel.
func WriteTable(w io.Writer, res *Results) error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	base, bn := res.baselineKey(), res.name(res.baselineKey())
	if len(res.Workloads) > 0 {
		vs := bn
		if res.BaselineLabel != "" {
			vs = "baseline concord build " + bn
		}
		p("concord vs %s, three members each on loopback, fsync on, 256-byte values; medians of %s runs of %s (after %s warmup); ratio = concord/%s.\n\n",
			vs, res.Config["reps"], res.Config["duration"], res.Config["warmup"], bn)
		if res.BaselineLabel != "" {
			p("Builds: concord = %s; %s = %s.\n\n", orUnknown(res.Versions[ClusterConcord]), bn, orUnknown(res.Versions[ClusterBaseline]))
		}
		p("| workload | %[1]s ops/s | concord ops/s | ratio | %[1]s p50 ms | concord p50 ms | %[1]s p99 ms | concord p99 ms | p99 ratio | %[1]s CPU s/10k ops | concord CPU s/10k ops | CPU ratio | errors %[1]s/concord |\n", bn)
		p("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
		for _, wl := range res.Workloads {
			e, c := Summarize(res.Runs, wl.Name, base), Summarize(res.Runs, wl.Name, ClusterConcord)
			p("| %s | %.0f | %.0f | %s | %.2f | %.2f | %.2f | %.2f | %s | %.2f | %.2f | %s | %d/%d |\n", wl.Label,
				e.Throughput, c.Throughput, ratio(c.Throughput, e.Throughput),
				e.P50, c.P50, e.P99, c.P99, ratio(c.P99, e.P99),
				e.CPUPer10k, c.CPUPer10k, ratio(c.CPUPer10k, e.CPUPer10k), e.Errors, c.Errors)
		}
		p("\nPeak RSS over the workloads (VmHWM, largest member): %s %.0f MiB, concord %.0f MiB.\n",
			bn, res.PeakRSSMiB[base], res.PeakRSSMiB[ClusterConcord])
	}
	if len(res.Memory) > 0 {
		p("\nMemory with %d keys of 256 bytes loaded (fresh clusters; RSS per member, MiB):\n\n", res.MemKeys)
		p("| member | %[1]s RSS | concord RSS | ratio | %[1]s anon | concord anon | anon ratio | %[1]s peak | concord peak |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|\n", bn)
		e, c := res.Memory[base], res.Memory[ClusterConcord]
		ea, ca := res.MemoryAnon[base], res.MemoryAnon[ClusterConcord]
		eh, ch := res.MemoryHWM[base], res.MemoryHWM[ClusterConcord]
		at := func(v []float64, i int) float64 {
			if i < len(v) {
				return v[i]
			}
			return 0
		}
		for i := range min(len(e), len(c)) {
			p("| %d | %.0f | %.0f | %s | %.0f | %.0f | %s | %.0f | %.0f |\n", i+1, e[i], c[i], ratio(c[i], e[i]),
				at(ea, i), at(ca, i), ratio(at(ca, i), at(ea, i)), at(eh, i), at(ch, i))
		}
		if base == ClusterEtcd {
			p("\nRSS counts etcd's mmapped bbolt pages it touched (file-backed, reclaimable); anon is RssAnon (heap and stacks).\n")
		} else {
			p("\nanon is RssAnon (heap and stacks); peak is VmHWM.\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// rotate returns s rotated left by n.
func rotate(s []string, n int) []string {
	n %= len(s)
	return append(slices.Clone(s[n:]), s[:n]...)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
