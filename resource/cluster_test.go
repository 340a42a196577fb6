package resource_test

import (
	"sync"
	"testing"
	"time"

	"github.com/concord-db/concord/internal/testcluster"
	"github.com/concord-db/concord/node"
	"github.com/concord-db/concord/resource"
	"github.com/concord-db/concord/resource/resourcetest"
)

// rcluster is a testcluster whose members each register a resource Store.
type rcluster struct {
	*testcluster.Cluster
	mu     sync.Mutex
	stores map[string]*resource.Store // latest incarnation of each member
}

func newRCluster(t *testing.T, cfg resource.Config, opts testcluster.Options) *rcluster {
	t.Helper()
	rc := &rcluster{stores: map[string]*resource.Store{}}
	if cfg.Logger == nil {
		cfg.Logger = testcluster.NewLogger(t)
	}
	opts.Register = func(id string, n *node.Node) error {
		s, err := resource.Open(cfg)
		if err != nil {
			return err
		}
		rc.mu.Lock()
		if old := rc.stores[id]; old != nil {
			old.Close()
		}
		rc.stores[id] = s
		rc.mu.Unlock()
		return n.Register(node.TypeResource, s)
	}
	rc.Cluster = testcluster.New(t, opts)
	t.Cleanup(func() {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		for _, s := range rc.stores {
			s.Close()
		}
	})
	return rc
}

func (rc *rcluster) store(id string) *resource.Store {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.stores[id]
}

func (rc *rcluster) backend(id string) *resource.Backend {
	return resource.NewBackend(rc.store(id), rc.Node(id))
}

// backends returns one backend per live member, followers first, so the
// contract's writes are forwarded and its reads run on followers.
func (rc *rcluster) backends(t *testing.T) []resourcetest.Backend {
	leader := rc.WaitLeader(t, 30*time.Second)
	var out []resourcetest.Backend
	for _, id := range rc.LiveIDs() {
		if id != leader {
			out = append(out, resourcetest.FromBackend(rc.backend(id)))
		}
	}
	return append(out, resourcetest.FromBackend(rc.backend(leader)))
}

const testMaxBytes = 64 << 10

// TestContract runs the resource contract on a three-member cluster.
func TestContract(t *testing.T) {
	rc := newRCluster(t, resource.Config{MaxResourceBytes: testMaxBytes}, testcluster.Options{})
	bs := rc.backends(t)
	resourcetest.RunContract(t, resourcetest.Options{
		Backends:         func(*testing.T) []resourcetest.Backend { return bs },
		MaxResourceBytes: testMaxBytes,
	})
}
