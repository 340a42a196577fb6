package sqlstore_test

import (
	"context"
	"errors"
	"log"

	"github.com/concord-db/concord/sqlstore"
)

// memberDB stands for the embedded member's database: agent.SQL(), or
// sqlstore.NewDB over the program's own node and store.
var memberDB *sqlstore.DB

// ExampleDB_BeginTx moves money between two accounts in a transaction,
// from a program that embeds a member, running it again on a
// serialization failure.
func ExampleDB_BeginTx() {
	ctx := context.Background()
	transfer := func() error {
		tx, err := memberDB.BeginTx(ctx, sqlstore.TxOptions{})
		if err != nil {
			return err
		}
		defer tx.Rollback() // ErrTxnDone after Commit: ignored
		rs, err := tx.Execute(ctx, []sqlstore.Statement{{SQL: "SELECT bal FROM acct WHERE id = ?", Positional: []any{int64(1)}}})
		if err != nil {
			return err
		}
		if rs[0].Error != "" || len(rs[0].Rows) == 0 || rs[0].Rows[0][0].(int64) < 10 {
			return errors.New("no such account, or not enough money")
		}
		if _, err := tx.Execute(ctx, []sqlstore.Statement{
			{SQL: "UPDATE acct SET bal = bal - 10 WHERE id = 1"},
			{SQL: "UPDATE acct SET bal = bal + 10 WHERE id = 2"},
		}); err != nil {
			return err
		}
		return tx.Commit(ctx)
	}
	for attempt := 0; ; attempt++ {
		err := transfer()
		if errors.Is(err, sqlstore.ErrTxnConflict) && attempt < 10 {
			continue
		}
		if err != nil {
			log.Fatal(err)
		}
		break
	}
}
