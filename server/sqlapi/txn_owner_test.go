package sqlapi

import (
	"context"
	"testing"

	"github.com/concord-db/concord/sqlstore"
)

// TestTxnBoundToOwner: a transaction is found only with the user that
// began it; another user's attempt leaves it open and usable.
func TestTxnBoundToOwner(t *testing.T) {
	reg, _ := newTestRegistry(t)
	tx, err := reg.db.BeginTx(context.Background(), sqlstore.TxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id, err := reg.addOwned(tx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	for _, other := range []string{"bob", "root", ""} {
		_, err := reg.getOwned(id, other)
		wantNotFound(t, err, "is unknown")
	}
	got, err := reg.getOwned(id, "alice")
	if err != nil || got != tx {
		t.Fatalf("owner's get: %v, %v", got, err)
	}
}
