package sqldriver_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log"

	"github.com/concord-db/concord/sqldriver"
)

// transferOnce moves amount between two accounts in one serializable
// transaction.
func transferOnce(ctx context.Context, db *sql.DB, from, to, amount int64) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // a no-op after Commit
	var bal int64
	if err := tx.QueryRowContext(ctx, "SELECT bal FROM acct WHERE id = ?", from).Scan(&bal); err != nil {
		return err
	}
	if bal < amount {
		return fmt.Errorf("account %d has %d, not %d", from, bal, amount)
	}
	if _, err := tx.ExecContext(ctx, "UPDATE acct SET bal = bal - ? WHERE id = ?", amount, from); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "UPDATE acct SET bal = bal + ? WHERE id = ?", amount, to); err != nil {
		return err
	}
	return tx.Commit()
}

// Example opens a cluster through two of its members and runs a
// transaction, running it again when it fails with a serialization
// failure (ErrTxnConflict) or because its member went away (ErrTxnLost):
// in both cases nothing of it was applied. ErrOutcomeUnknown is not
// retried blindly: the commit may have been applied.
func Example() {
	db, err := sql.Open("concord", "concord://127.0.0.1:2379,127.0.0.1:22379/?level=linearizable&timeout=5s")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	for attempt := 0; attempt < 10; attempt++ {
		err = transferOnce(ctx, db, 1, 2, 10)
		if !errors.Is(err, sqldriver.ErrTxnConflict) && !errors.Is(err, sqldriver.ErrTxnLost) {
			break
		}
	}
	if err != nil {
		log.Fatal(err)
	}
}
