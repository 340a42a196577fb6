package etcdapi

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/concord-db/concord/server/connlimit"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Limits protect the server from what one client may ask or hold: etcd's
// request caps (--max-request-bytes, --max-txn-ops,
// --max-concurrent-streams) and concord's own read and watch caps. Zero
// fields take the defaults below; docs/security.md ("Limits") describes
// each one's behaviour.
type Limits struct {
	// MaxRequestBytes caps the encoded size of a write. Default 1.5 MiB.
	MaxRequestBytes int
	// MaxTxnOps caps the operations in one txn (each branch). Default 128.
	MaxTxnOps int
	// MaxRangeBytes caps the key-values one Range or read-only Txn returns
	// (their exact encoded size, summed over a txn's ranges; REST ranges
	// too). A read past it fails with ResourceExhausted
	// ("etcdserver: range response too large ...") before anything is
	// built, so a huge read costs no memory. Default 64 MiB; negative: no
	// cap.
	MaxRangeBytes int64
	// MaxConcurrentStreams caps the gRPC streams (calls) open at once on
	// one client connection, etcd's --max-concurrent-streams. It is
	// announced in HTTP/2's SETTINGS: a gRPC client queues calls beyond it
	// until one ends, and the server reads no new stream of a connection
	// at the cap. Default 1000 (etcd's is unlimited).
	MaxConcurrentStreams uint32
	// MaxWatchesPerConnection caps the watches open at once over all the
	// watch streams of one gRPC connection (etcd and resource watches). A
	// create past it is refused: etcd's Watch answers created-and-canceled
	// with a cancel reason naming the limit, the resource WatchList fails
	// with ResourceExhausted. Default 10000; negative: no cap.
	MaxWatchesPerConnection int
	// ClientSendTimeout is how long one send on a gRPC stream may wait for
	// a client that reads nothing (its HTTP/2 window and the server's send
	// buffer are full) before the stream is dropped with ResourceExhausted
	// (connlimit.SendTimeout), releasing what it holds: an etcd watch
	// stream its watchers and everything queued for them, a resource watch
	// its buffer. Until then each watcher's queue is bounded (kv's
	// WatchBuffer: a full one falls back to catching up from history; the
	// resource store's WatchBuffer). The agent gives HTTP connections the
	// same bound on each write (server.Config.ClientSendTimeout). Default
	// 1m; negative: never drop.
	ClientSendTimeout time.Duration
}

// Defaults of Limits: etcd's where etcd has the limit.
const (
	DefaultMaxRequestBytes         = 1536 * 1024
	DefaultMaxTxnOps               = 128
	DefaultMaxRangeBytes           = 64 << 20
	DefaultMaxConcurrentStreams    = 1000
	DefaultMaxWatchesPerConnection = 10000
	DefaultClientSendTimeout       = time.Minute
	// grpcOverheadBytes is what gRPC framing may add to a request on top of
	// MaxRequestBytes (etcd allows the same slack).
	grpcOverheadBytes = 512 * 1024
)

// Validate reports every field out of range. Zero means the default.
func (l Limits) Validate() error {
	var errs []error
	if l.MaxRequestBytes < 0 || l.MaxRequestBytes > math.MaxInt32-grpcOverheadBytes {
		errs = append(errs, fmt.Errorf("MaxRequestBytes (--max-request-bytes) must be positive and below 2 GiB, got %d", l.MaxRequestBytes))
	}
	if l.MaxTxnOps < 0 {
		errs = append(errs, fmt.Errorf("MaxTxnOps (--max-txn-ops) must be positive, got %d", l.MaxTxnOps))
	}
	if l.MaxRangeBytes > 0 && l.MaxRangeBytes < int64(l.withDefaults().MaxRequestBytes) {
		errs = append(errs, fmt.Errorf("MaxRangeBytes (--max-range-bytes, %d) must be at least MaxRequestBytes (--max-request-bytes, %d), or a key written could not be read back",
			l.MaxRangeBytes, l.withDefaults().MaxRequestBytes))
	}
	return errors.Join(errs...)
}

func (l Limits) withDefaults() Limits {
	if l.MaxRequestBytes <= 0 {
		l.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if l.MaxTxnOps <= 0 {
		l.MaxTxnOps = DefaultMaxTxnOps
	}
	if l.MaxRangeBytes == 0 {
		l.MaxRangeBytes = DefaultMaxRangeBytes
	}
	if l.MaxConcurrentStreams == 0 {
		l.MaxConcurrentStreams = DefaultMaxConcurrentStreams
	}
	if l.MaxWatchesPerConnection == 0 {
		l.MaxWatchesPerConnection = DefaultMaxWatchesPerConnection
	}
	if l.ClientSendTimeout == 0 {
		l.ClientSendTimeout = DefaultClientSendTimeout
	}
	return l
}

func (l *Limits) setDefaults() { *l = l.withDefaults() }

// RangeCap is the effective MaxRangeBytes: the default for 0, and 0 for
// no cap.
func (l Limits) RangeCap() int64 { return max(0, l.withDefaults().MaxRangeBytes) }

// MaxRecvMsgSize is the gRPC receive limit to configure for these limits.
func (l Limits) MaxRecvMsgSize() int {
	return l.withDefaults().MaxRequestBytes + grpcOverheadBytes
}

// ServerOptions are the gRPC server options that enforce these limits on
// the client port: the receive cap, the concurrent streams cap, the
// connection tagging that per-connection watch counting needs, and the drop
// of streams whose client stopped reading.
func (l Limits) ServerOptions() []grpc.ServerOption {
	l.setDefaults()
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(l.MaxRecvMsgSize()),
		grpc.MaxConcurrentStreams(l.MaxConcurrentStreams),
		grpc.StatsHandler(connlimit.Handler{MaxWatches: l.MaxWatchesPerConnection}),
		grpc.ChainStreamInterceptor(connlimit.SendTimeout(l.ClientSendTimeout)),
	}
}

// rangeTooLarge is the gRPC answer to a read past MaxRangeBytes.
func rangeTooLarge(err error) error {
	return status.Error(codes.ResourceExhausted, "etcdserver: "+err.Error()+" (--max-range-bytes); narrow the range or set a limit")
}

// tooManyWatchesReason is the cancel reason of a watch refused by
// MaxWatchesPerConnection.
func tooManyWatchesReason(max int) string {
	return fmt.Sprintf("etcdserver: too many watches on this connection (--max-watches-per-connection %d)", max)
}
