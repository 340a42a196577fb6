package main

import (
	"fmt"
	"time"

	"github.com/concord-db/concord/server/etcdapi"
	"github.com/spf13/pflag"
)

// agentLimitOptions are the agent's flags for the limits that protect the
// server from one client (docs/security.md, "Limits"); --max-request-bytes
// and --max-txn-ops are in agent.go.
type agentLimitOptions struct {
	maxRangeBytes           int64
	maxConcurrentStreams    uint32
	maxWatchesPerConnection int
	clientSendTimeout       time.Duration
}

func (o *agentLimitOptions) addFlags(f *pflag.FlagSet) {
	f.Int64Var(&o.maxRangeBytes, "max-range-bytes", etcdapi.DefaultMaxRangeBytes, "largest range (or read-only txn, or resource list) response, in bytes of key-values; a larger read fails before anything is built; 0: no cap")
	f.Uint32Var(&o.maxConcurrentStreams, "max-concurrent-streams", etcdapi.DefaultMaxConcurrentStreams, "most gRPC streams open at once on one client connection (etcd's flag); clients queue calls beyond it")
	f.IntVar(&o.maxWatchesPerConnection, "max-watches-per-connection", etcdapi.DefaultMaxWatchesPerConnection, "most watches open at once on one gRPC client connection, over all its streams; a create beyond is refused; 0: no cap")
	f.DurationVar(&o.clientSendTimeout, "client-send-timeout", etcdapi.DefaultClientSendTimeout, "how long a send to a client that reads nothing may wait before its gRPC stream (a watch, say) or HTTP connection is dropped; 0: never")
}

// apply sets the flags' limits on l and checks them.
func (o *agentLimitOptions) apply(l *etcdapi.Limits) error {
	if o.maxConcurrentStreams == 0 {
		return fmt.Errorf("--max-concurrent-streams must be positive")
	}
	if o.maxRangeBytes < 0 || o.maxWatchesPerConnection < 0 || o.clientSendTimeout < 0 {
		return fmt.Errorf("--max-range-bytes (%d), --max-watches-per-connection (%d) and --client-send-timeout (%s) must not be negative (0: no cap)",
			o.maxRangeBytes, o.maxWatchesPerConnection, o.clientSendTimeout)
	}
	l.MaxRangeBytes = noCapIfZero(o.maxRangeBytes)
	l.MaxConcurrentStreams = o.maxConcurrentStreams
	l.MaxWatchesPerConnection = int(noCapIfZero(int64(o.maxWatchesPerConnection)))
	l.ClientSendTimeout = time.Duration(noCapIfZero(int64(o.clientSendTimeout)))
	return l.Validate()
}

// noCapIfZero turns a flag's 0 ("no cap") into Limits' -1 (Limits' 0 is
// "the default").
func noCapIfZero(v int64) int64 {
	if v == 0 {
		return -1
	}
	return v
}
