package sqlapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/concord-db/concord/node"
	"github.com/concord-db/concord/sqlstore"
)

// leaderNode is a one-member node for sqlstore.DB that never applies (the
// registry tests begin and end transactions without committing them).
type leaderNode struct{}

func (leaderNode) Apply(context.Context, node.Type, []byte) (node.Result, error) {
	return node.Result{}, errors.New("leaderNode: no log")
}
func (leaderNode) ReadBarrier(context.Context) error { return nil }
func (leaderNode) Status() node.Status               { return node.Status{State: "Leader"} }

// fakeClock is a registry's time, moved by the test.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTestRegistry(t *testing.T) (*txnRegistry, *fakeClock) {
	t.Helper()
	store, err := sqlstore.Open(sqlstore.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	reg := newTxnRegistry(sqlstore.NewDB(store, leaderNode{}))
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	reg.now = clock.now
	return reg, clock
}

func (reg *txnRegistry) begin(t *testing.T) (string, *sqlstore.Tx) {
	t.Helper()
	tx, err := reg.db.BeginTx(context.Background(), sqlstore.TxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id, err := reg.add(tx)
	if err != nil {
		t.Fatal(err)
	}
	return id, tx
}

func wantNotFound(t *testing.T, err error, text string) {
	t.Helper()
	if errorStatus(err) != http.StatusNotFound || !strings.Contains(err.Error(), text) {
		t.Fatalf("got %v (status %d), want a 404 containing %q", err, errorStatus(err), text)
	}
}

// TestTxnRegistryExpiresIdleTransactions: a transaction unused for longer
// than the idle timeout is rolled back and forgotten, on access and by
// the sweep of the next begin; use keeps one alive.
func TestTxnRegistryExpiresIdleTransactions(t *testing.T) {
	reg, clock := newTestRegistry(t)
	idle, idleTx := reg.begin(t)
	used, _ := reg.begin(t)
	swept, sweptTx := reg.begin(t)
	for range 3 {
		clock.add(reg.idle / 2)
		if _, err := reg.get(used); err != nil {
			t.Fatalf("a transaction in use expired: %v", err)
		}
	}
	_, err := reg.get(idle)
	wantNotFound(t, err, "expired")
	if _, err := idleTx.Execute(context.Background(), []sqlstore.Statement{{SQL: "SELECT 1"}}); !errors.Is(err, sqlstore.ErrTxnDone) {
		t.Fatalf("an expired transaction still runs statements: %v", err)
	}
	reg.begin(t) // sweeps
	reg.mu.Lock()
	_, still := reg.open[swept]
	reg.mu.Unlock()
	if still {
		t.Fatal("begin did not sweep an idle transaction")
	}
	if err := sweptTx.Rollback(); !errors.Is(err, sqlstore.ErrTxnDone) {
		t.Fatalf("a swept transaction was not ended: %v", err)
	}
	_, err = reg.get(swept)
	wantNotFound(t, err, "ended")
}

func TestTxnRegistryNamesForeignIDs(t *testing.T) {
	reg, _ := newTestRegistry(t)
	_, err := reg.get("0000-1111")
	wantNotFound(t, err, "restarted")
	other, _ := newTestRegistry(t)
	id, _ := other.begin(t)
	_, err = reg.get(id)
	wantNotFound(t, err, "another member")
}
