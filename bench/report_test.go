package bench

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func sampleReport() *Report {
	return &Report{Workload: Get, Endpoints: []string{"a:1", "b:2"}, Clients: 64, Conns: 2, ValueSize: 256, KeySpace: 1000,
		Consistency: Serializable, Seconds: 10, Ops: 12345, Errors: 3, Throughput: 1234.5,
		Latency:      Latency{P50: 1.234, P90: 12.34, P99: 123.4, P999: 150, Max: 200, Mean: 5},
		ErrorsByKind: map[string]int64{"timeout": 2, "Unavailable: etcdserver: no leader": 1}, Missed: 7,
		Watch: &WatchStats{Watchers: 10, Events: 100, Expected: 100, Latency: Latency{P99: 2}}}
}

func TestReportText(t *testing.T) {
	var b bytes.Buffer
	if err := sampleReport().WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"get (serializable)",
		"64 clients over 2 conns, 256-byte values, key space 1000, closed loop",
		"12345 ok, 3 errors",
		"1234.5 ops/s",
		"p50 1.23ms  p90 12.3ms  p99 123ms  p99.9 150ms  max 200ms",
		"7 requests due but never sent",
		"100 received of 100 expected",
		"2 × timeout",
		"1 × Unavailable: etcdserver: no leader",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	// Error kinds are sorted: the output is stable.
	if strings.Index(out, "Unavailable") > strings.Index(out, "timeout") {
		t.Errorf("error kinds not sorted:\n%s", out)
	}
}

func TestReportJSON(t *testing.T) {
	var b bytes.Buffer
	if err := sampleReport().WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	lat := m["latency"].(map[string]any)
	if m["ops_per_second"] != 1234.5 || lat["p99_ms"] != 123.4 || lat["p99_9_ms"] != 150.0 || m["missed"] != 7.0 {
		t.Errorf("unexpected JSON: %s", b.String())
	}
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil || back.Ops != 12345 || back.Watch.Events != 100 {
		t.Errorf("JSON does not round-trip: %v %+v", err, back)
	}
}

func TestFmtMS(t *testing.T) {
	for ms, want := range map[float64]string{0.1234: "0.12ms", 9.999: "10.00ms", 12.34: "12.3ms", 1234: "1234ms"} {
		if got := fmtMS(ms); got != want {
			t.Errorf("fmtMS(%g) = %q, want %q", ms, got, want)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := Config{Workload: Put, Endpoints: []string{"127.0.0.1:2379"}}
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   string // substring of the error; "" for none
	}{
		{"defaults", func(*Config) {}, ""},
		{"unknown workload", func(c *Config) { c.Workload = "nope" }, "unknown workload"},
		{"no endpoints", func(c *Config) { c.Endpoints = nil }, "--endpoints is empty"},
		{"empty endpoint", func(c *Config) { c.Endpoints = []string{"a:1", " "} }, "empty entry"},
		{"zero clients", func(c *Config) { c.Clients = -1 }, "--clients"},
		{"more conns than clients", func(c *Config) { c.Clients, c.Conns = 2, 3 }, "--conns (3) is more than --clients (2)"},
		{"duration and total", func(c *Config) { c.Duration, c.Total = time.Second, 10 }, "exclusive"},
		{"negative rate", func(c *Config) { c.Rate = -1 }, "--rate"},
		{"consistency", func(c *Config) { c.Consistency = "strong" }, "--consistency"},
		{"read ratio", func(c *Config) { c.Workload, c.ReadRatio = Mixed, 1.5 }, "--read-ratio"},
		{"watch value too small", func(c *Config) { c.Workload, c.ValueSize = Watch, 4 }, "at least 8"},
		{"key space", func(c *Config) { c.KeySpace = -5 }, "--key-space"},
		{"fill with duration", func(c *Config) { c.Workload, c.Duration = Fill, time.Second }, "--duration does not apply"},
		{"huge value", func(c *Config) { c.ValueSize = 2 << 20 }, "--value-size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.change(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	c := Config{Workload: Put, Endpoints: []string{"a:1", "b:2", "c:3"}, Clients: 64}.withDefaults()
	if c.Conns != 3 || c.Duration != DefaultDuration || c.ValueSize != 256 || c.Consistency != Linearizable {
		t.Errorf("defaults: %+v", c)
	}
	// One client: one connection, to the first endpoint.
	if c := (Config{Workload: Put, Endpoints: []string{"a:1", "b:2"}}).withDefaults(); c.Conns != 1 {
		t.Errorf("one client got %d conns", c.Conns)
	}
	// Fill runs until the key space is written.
	if c := (Config{Workload: Fill, Endpoints: []string{"a:1"}}).withDefaults(); c.Duration != 0 {
		t.Errorf("fill got a duration %s", c.Duration)
	}
}

// Clients spread round-robin over the endpoints through their connections.
func TestSpread(t *testing.T) {
	eps := []string{"a", "b", "c"}
	count := map[string]int{}
	const clients, conns = 64, 6
	for i := range clients {
		count[endpointOfConn(eps, connOfClient(conns, i))]++
	}
	if count["a"] != 22 || count["b"] != 21 || count["c"] != 21 {
		t.Errorf("clients per endpoint: %v", count)
	}
}

func TestAppendKey(t *testing.T) {
	if got := string(appendKey(nil, "bench/", "k/", 42)); got != "bench/k/000000000042" {
		t.Errorf("key %q", got)
	}
}
