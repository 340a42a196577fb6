// Package bench is the load generator behind `concord bench`. It speaks
// etcd's v3 API through go.etcd.io/etcd/client/v3, so the same workload
// measures concord and etcd.
//
// A run opens --conns gRPC connections, each pinned to one endpoint
// (round-robin over the endpoints), and starts --clients workers that share
// them (worker i uses connection i mod conns), as etcd's benchmark tool
// does. Workers run closed loop (each sends its next request when the
// previous one answered) or, with a rate, open loop: request i is scheduled
// at start + i/rate and its latency is measured from that intended send
// time, so a stall shows up in the latencies instead of silently lowering
// the request rate (coordinated omission).
package bench

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Workloads.
const (
	Put            = "put"             // random keys over the key space
	Get            = "get"             // random keys over the (preloaded) key space
	Mixed          = "mixed"           // gets with probability ReadRatio, puts otherwise
	TxnCAS         = "txn-cas"         // read mod_revision, then compare-and-swap through a txn
	Watch          = "watch"           // put-to-event latency of Watchers watchers on one prefix
	LeaseKeepAlive = "lease-keepalive" // one lease per worker, kept alive
	Fill           = "fill"            // write every key of the key space once, Batch keys per txn
)

// Workloads lists the workload names.
var Workloads = []string{Put, Get, Mixed, TxnCAS, Watch, LeaseKeepAlive, Fill, SQLInsert, SQLTxn, SQLQuery,
	ResourceWrite, ResourceRead, ResourceWatch}

// Consistency levels of reads.
const (
	Linearizable = "linearizable"
	Serializable = "serializable"
)

// Defaults.
const (
	DefaultValueSize = 256
	DefaultKeySpace  = 10000
	DefaultDuration  = 10 * time.Second
	DefaultTimeout   = 10 * time.Second
	DefaultPrefix    = "bench/"
	DefaultWatchers  = 100
	// DefaultWatchStreams is how many gRPC watch streams the watchers share.
	DefaultWatchStreams = 10
	DefaultBatch        = 100
)

// Config is one benchmark run.
type Config struct {
	Workload  string
	Endpoints []string
	// Clients is the number of concurrent workers (for watch: writers).
	Clients int
	// Conns is the number of gRPC connections the workers share. Default:
	// the number of endpoints, so every endpoint gets one.
	Conns int
	// Duration of the measured phase; exclusive with Total.
	Duration time.Duration
	// Total is the number of measured operations; exclusive with Duration.
	Total int64
	// Warmup runs the load this long before measuring.
	Warmup    time.Duration
	ValueSize int
	KeySpace  int
	Prefix    string
	// Rate is the total request rate, per second, of an open-loop run; 0
	// runs closed loop.
	Rate        float64
	Consistency string  // of gets: linearizable (default) or serializable
	ReadRatio   float64 // mixed: fraction of gets
	Watchers    int     // watch: watchers on the first endpoint
	// WatchStreams is the number of gRPC watch streams (one connection each)
	// the watchers are spread over. Default DefaultWatchStreams.
	WatchStreams int
	Batch        int // fill: puts per txn
	// Preload writes the key space before a get or mixed run when it is not
	// there yet.
	Preload bool
	// Level is the consistency level of sql-query (rqlite's: none, weak,
	// linearizable, strong). Default linearizable.
	Level string
	// Table is the SQL workloads' table. Default DefaultSQLTable.
	Table string
	// TxnStatements is the number of statements of one sql-txn request.
	// Default DefaultTxnStatements.
	TxnStatements int
	// ResourceConsistency is the consistency of resource-read: strong
	// (default) or eventual.
	ResourceConsistency string
	// OwnedKeys makes resource-write a controller's loop: worker i writes
	// only the keys whose index is i modulo Clients, and guards each write
	// with the version its own previous write of that key returned,
	// reading only for a key it has not written yet or after a lost swap.
	// Default false: every write is read-modify-write.
	OwnedKeys bool
	// Security reaches a cluster with TLS and auth on (secure.go).
	Security Security
	// Timeout bounds each request.
	Timeout     time.Duration
	DialTimeout time.Duration
	// Progress, if set, receives a live status line every second.
	Progress io.Writer
}

// withDefaults fills in the unset fields.
func (c Config) withDefaults() Config {
	if c.Clients == 0 {
		c.Clients = 1
	}
	if c.Conns == 0 && isSQL(c.Workload) {
		c.Conns = c.Clients // one HTTP connection per client
	}
	if c.Conns == 0 {
		c.Conns = max(1, min(len(c.Endpoints), c.Clients))
	}
	if c.Duration == 0 && c.Total == 0 && c.Workload != Fill {
		c.Duration = DefaultDuration
	}
	if c.ValueSize == 0 {
		c.ValueSize = DefaultValueSize
	}
	if c.KeySpace == 0 {
		c.KeySpace = DefaultKeySpace
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.Consistency == "" {
		c.Consistency = Linearizable
	}
	if c.Watchers == 0 {
		c.Watchers = DefaultWatchers
	}
	if c.WatchStreams == 0 {
		c.WatchStreams = DefaultWatchStreams
	}
	if c.Batch == 0 {
		c.Batch = DefaultBatch
	}
	if c.Level == "" {
		c.Level = DefaultSQLLevel
	}
	if c.Table == "" {
		c.Table = DefaultSQLTable
	}
	if c.TxnStatements == 0 {
		c.TxnStatements = DefaultTxnStatements
	}
	if c.ResourceConsistency == "" {
		c.ResourceConsistency = Strong
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = 5 * time.Second
	}
	return c
}

// Validate checks the configuration, defaults filled in. Its errors name
// the flag at fault.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !slices.Contains(Workloads, c.Workload) {
		bad("unknown workload %q: want one of %s", c.Workload, strings.Join(Workloads, ", "))
	}
	if len(c.Endpoints) == 0 {
		bad("--endpoints is empty")
	}
	for _, ep := range c.Endpoints {
		if strings.TrimSpace(ep) == "" {
			bad("--endpoints has an empty entry")
		}
	}
	if c.Clients < 1 {
		bad("--clients must be at least 1, got %d", c.Clients)
	}
	if isSQL(c.Workload) && c.Conns != c.Clients {
		bad("--conns does not apply to %s: each client has its own HTTP connection", c.Workload)
	} else if c.Conns < 1 {
		bad("--conns must be at least 1, got %d", c.Conns)
	} else if c.Conns > c.Clients {
		bad("--conns (%d) is more than --clients (%d): some connections would carry no load", c.Conns, c.Clients)
	}
	if c.Duration < 0 || c.Total < 0 || c.Warmup < 0 {
		bad("--duration, --total and --warmup cannot be negative")
	}
	if c.Duration > 0 && c.Total > 0 {
		bad("--duration and --total are exclusive; give one")
	}
	if c.Workload == Fill && c.Duration > 0 {
		bad("fill writes the key space once; --duration does not apply")
	}
	if c.ValueSize < 0 || c.ValueSize > 1<<20 {
		bad("--value-size must be between 0 and 1 MiB, got %d", c.ValueSize)
	}
	if (c.Workload == Watch || c.Workload == ResourceWatch) && c.ValueSize < 8 {
		bad("%s embeds the send time in the value: --value-size must be at least 8, got %d", c.Workload, c.ValueSize)
	}
	if c.KeySpace < 1 {
		bad("--key-space must be at least 1, got %d", c.KeySpace)
	}
	if c.Rate < 0 {
		bad("--rate cannot be negative, got %g", c.Rate)
	}
	if c.Consistency != Linearizable && c.Consistency != Serializable {
		bad("--consistency %q: want linearizable or serializable", c.Consistency)
	}
	if c.ReadRatio < 0 || c.ReadRatio > 1 {
		bad("--read-ratio must be between 0 and 1, got %g", c.ReadRatio)
	}
	if c.Watchers < 1 {
		bad("--watchers must be at least 1, got %d", c.Watchers)
	}
	if c.WatchStreams < 1 {
		bad("--streams must be at least 1, got %d", c.WatchStreams)
	}
	if c.Batch < 1 {
		bad("--batch must be at least 1, got %d", c.Batch)
	}
	if !slices.Contains(SQLLevels, c.Level) {
		bad("--level %q: want one of %s", c.Level, strings.Join(SQLLevels, ", "))
	}
	if !sqlIdent.MatchString(c.Table) {
		bad("--table %q: want a plain SQL identifier (letters, digits, underscores)", c.Table)
	}
	if c.TxnStatements < 1 || c.TxnStatements > maxTxnStatements {
		bad("--statements must be between 1 and %d, got %d", maxTxnStatements, c.TxnStatements)
	}
	if c.ResourceConsistency != Strong && c.ResourceConsistency != Eventual {
		bad("--consistency %q of resource-read: want strong or eventual", c.ResourceConsistency)
	}
	if c.OwnedKeys && c.KeySpace < c.Clients {
		bad("--owned-keys needs --key-space (%d) of at least --clients (%d): every client owns keys", c.KeySpace, c.Clients)
	}
	if c.Timeout <= 0 {
		bad("--timeout must be positive")
	}
	return errors.Join(errs...)
}

// endpointOfConn is the endpoint connection i is pinned to.
func endpointOfConn(endpoints []string, i int) string { return endpoints[i%len(endpoints)] }

// connOfClient is the connection worker i uses.
func connOfClient(conns, i int) int { return i % conns }
