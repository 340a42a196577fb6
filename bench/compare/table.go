package compare

import (
	"fmt"
	"io"
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

func ratio(concord, etcd float64) string {
	if etcd == 0 || concord == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", concord/etcd)
}

// WriteTable writes the comparison as Markdown tables.
func WriteTable(w io.Writer, res *Results) error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	if len(res.Workloads) > 0 {
		p("concord vs etcd, three members each on loopback, fsync on, 256-byte values; medians of %s runs of %s (after %s warmup); ratio = concord/etcd.\n\n",
			res.Config["reps"], res.Config["duration"], res.Config["warmup"])
		p("| workload | etcd ops/s | concord ops/s | ratio | etcd p50 ms | concord p50 ms | etcd p99 ms | concord p99 ms | p99 ratio | etcd CPU s/10k ops | concord CPU s/10k ops | CPU ratio | errors etcd/concord |\n")
		p("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
		for _, wl := range res.Workloads {
			e, c := Summarize(res.Runs, wl.Name, "etcd"), Summarize(res.Runs, wl.Name, "concord")
			p("| %s | %.0f | %.0f | %s | %.2f | %.2f | %.2f | %.2f | %s | %.2f | %.2f | %s | %d/%d |\n", wl.Label,
				e.Throughput, c.Throughput, ratio(c.Throughput, e.Throughput),
				e.P50, c.P50, e.P99, c.P99, ratio(c.P99, e.P99),
				e.CPUPer10k, c.CPUPer10k, ratio(c.CPUPer10k, e.CPUPer10k), e.Errors, c.Errors)
		}
		p("\nPeak RSS over the workloads (VmHWM, largest member): etcd %.0f MiB, concord %.0f MiB.\n",
			res.PeakRSSMiB["etcd"], res.PeakRSSMiB["concord"])
	}
	if len(res.Memory) > 0 {
		p("\nMemory with %d keys of 256 bytes loaded (fresh clusters; RSS per member, MiB):\n\n", res.MemKeys)
		p("| member | etcd RSS | concord RSS | ratio | etcd anon | concord anon | anon ratio | etcd peak | concord peak |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
		e, c := res.Memory["etcd"], res.Memory["concord"]
		ea, ca := res.MemoryAnon["etcd"], res.MemoryAnon["concord"]
		eh, ch := res.MemoryHWM["etcd"], res.MemoryHWM["concord"]
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
		p("\nRSS counts etcd's mmapped bbolt pages it touched (file-backed, reclaimable); anon is RssAnon (heap and stacks).\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
