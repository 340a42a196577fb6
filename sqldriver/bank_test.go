package sqldriver_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/concord-db/concord/server/sqlapi/sqlapitest"
	"github.com/concord-db/concord/sqldriver"
)

// bank is the transfer-invariant workload: accounts whose balances are
// moved by concurrent transactions that read both balances and write back
// absolute values (so a lost update or a dirty read changes the total),
// while read-only transactions read every balance one statement at a
// time and check the total.
type bank struct {
	accounts, initial int
	transfers         atomic.Int64 // committed
	conflicts         atomic.Int64 // ErrTxnConflict, retried
	unknown           atomic.Int64 // ErrOutcomeUnknown or ErrTxnLost under faults
	audits            atomic.Int64 // read-only transactions that saw the right total
}

func (b *bank) total() int { return b.accounts * b.initial }

func (b *bank) setup(t *testing.T, db *sql.DB) {
	t.Helper()
	exec(t, db, "CREATE TABLE acct (id INTEGER PRIMARY KEY, bal INTEGER NOT NULL)")
	for i := range b.accounts {
		exec(t, db, "INSERT INTO acct VALUES (?, ?)", i, b.initial)
	}
}

// transfer moves amount from one account to another in one transaction.
func (b *bank) transfer(ctx context.Context, db *sql.DB, from, to, amount int) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var fb, tb int
	if err := tx.QueryRowContext(ctx, "SELECT bal FROM acct WHERE id = ?", from).Scan(&fb); err != nil {
		return err
	}
	if err := tx.QueryRowContext(ctx, "SELECT bal FROM acct WHERE id = ?", to).Scan(&tb); err != nil {
		return err
	}
	if fb < amount {
		return nil
	}
	if _, err := tx.ExecContext(ctx, "UPDATE acct SET bal = ? WHERE id = ?", fb-amount, from); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "UPDATE acct SET bal = ? WHERE id = ?", tb+amount, to); err != nil {
		return err
	}
	return tx.Commit()
}

// audit reads every balance in one read-only transaction and returns the
// total it saw, checked both before and at commit.
func (b *bank) audit(ctx context.Context, db *sql.DB) (int, error) {
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	sum := 0
	for i := range b.accounts {
		var bal int
		if err := tx.QueryRowContext(ctx, "SELECT bal FROM acct WHERE id = ?", i).Scan(&bal); err != nil {
			return 0, err
		}
		sum += bal
	}
	if sum != b.total() {
		return sum, fmt.Errorf("an open transaction saw a total of %d, want %d", sum, b.total())
	}
	return sum, tx.Commit()
}

// retryable reports whether a failed transaction should just be run again.
func (b *bank) retryable(err error) bool {
	switch {
	case errors.Is(err, sqldriver.ErrTxnConflict):
		b.conflicts.Add(1)
		return true
	case errors.Is(err, sqldriver.ErrOutcomeUnknown), errors.Is(err, sqldriver.ErrTxnLost):
		b.unknown.Add(1)
		return true
	}
	return false
}

// run has writers each commit transfers (retrying conflicts) while
// auditors check the total; midway, after half the transfers, it calls
// fault (nil: none) once. tolerate lets a fault's transient errors (no
// leader, a member down) be retried.
func (b *bank) run(t *testing.T, db *sql.DB, writers, transfers, auditors int, fault func(), tolerate func(error) bool) {
	t.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	done := make(chan struct{})
	errs := make(chan error, writers+auditors)
	var faultOnce sync.Once
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for n := 0; n < transfers; {
				from, to := rng.IntN(b.accounts), rng.IntN(b.accounts)
				if from == to {
					continue
				}
				err := b.transfer(ctx, db, from, to, 1+rng.IntN(20))
				switch {
				case err == nil:
					n++
					if b.transfers.Add(1) == int64(writers*transfers/2) && fault != nil {
						faultOnce.Do(fault)
					}
				case b.retryable(err), tolerate != nil && tolerate(err):
				default:
					errs <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
			}
		}()
	}
	var awg sync.WaitGroup
	for a := range auditors {
		awg.Add(1)
		go func() {
			defer awg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				sum, err := b.audit(ctx, db)
				switch {
				case err == nil:
					b.audits.Add(1)
				case sum != 0 && sum != b.total():
					errs <- fmt.Errorf("auditor %d: %w", a, err)
					return
				case b.retryable(err), tolerate != nil && tolerate(err):
				default:
					errs <- fmt.Errorf("auditor %d: %w", a, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	awg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var sum, count int
	if err := db.QueryRow("SELECT sum(bal), count(*) FROM acct").Scan(&sum, &count); err != nil {
		t.Fatal(err)
	}
	if sum != b.total() || count != b.accounts {
		t.Fatalf("after the run: total %d over %d accounts, want %d over %d", sum, count, b.total(), b.accounts)
	}
	t.Logf("bank: %d transfers committed, %d conflicts retried, %d unknown/lost, %d audits passed",
		b.transfers.Load(), b.conflicts.Load(), b.unknown.Load(), b.audits.Load())
}

func TestDriverBankInvariant(t *testing.T) {
	srv := sqlapitest.StartStore(t)
	db := openDB(t, srv.Addr)
	b := &bank{accounts: 6, initial: 100}
	b.setup(t, db)
	b.run(t, db, 3, 20, 2, nil, nil)
	if b.audits.Load() == 0 {
		t.Fatal("no audit passed")
	}
}
