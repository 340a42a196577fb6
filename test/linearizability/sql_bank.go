package linearizability

// The bank workload checks the SQL face's interactive transactions
// (package sqldriver: BeginTx, reads that see the transaction's own
// writes, Commit) under the scenario's faults. Accounts in lin_bank start
// with bankInitial each; clients move money between two accounts in a
// transaction that reads both balances and writes back absolute values, so
// a lost update, a dirty or torn read, or a commit applied twice changes
// the total. Every snapshot of the table has the same total, whatever the
// outcome of any transfer, so the check needs no outcome knowledge:
//
//   - an audit (a read-only transaction reading every balance one
//     statement at a time, or one SUM at level linearizable) that sees
//     another total is a violation;
//   - after the run (and the kill -9 of every member) the table must hold
//     bankAccounts rows summing to the total.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/concord-db/concord/sqldriver"
)

const (
	bankTable    = "lin_bank"
	bankAccounts = 5
	bankInitial  = 100
	bankTotal    = bankAccounts * bankInitial
)

// bankState is the bank workload's share of a run.
type bankState struct {
	mu                                   sync.Mutex
	transfers, conflicts, failed, audits int
	bad                                  []string
	lastErr                              error
}

func (b *bankState) add(f func(*bankState)) {
	b.mu.Lock()
	f(b)
	b.mu.Unlock()
}

// openBank opens a database/sql handle on every member through sqldriver.
func openBank(endpoints []string, timeout time.Duration) (*sql.DB, error) {
	return sql.Open(sqldriver.DriverName, "concord://"+strings.Join(endpoints, ",")+"/?level=linearizable&timeout="+timeout.String())
}

// bankSetup creates the accounts; idempotent, it never changes an account
// that exists.
func bankSetup(ctx context.Context, endpoint string) error {
	stmts := [][]any{{"CREATE TABLE IF NOT EXISTS " + bankTable + " (id INTEGER PRIMARY KEY, bal INTEGER NOT NULL)"}}
	for i := range bankAccounts {
		stmts = append(stmts, []any{"INSERT OR IGNORE INTO " + bankTable + "(id, bal) VALUES(?, ?)", i, bankInitial})
	}
	hc := newSQLHTTP()
	defer hc.CloseIdleConnections()
	_, err := sqlDo(ctx, hc, endpoint, "/db/execute?transaction", stmts...)
	return err
}

func (k *worker) bankLoop(ctx context.Context) {
	b := &k.r.bank
	for ctx.Err() == nil {
		octx, cancel := context.WithTimeout(ctx, k.r.w.OpTimeout)
		err := bankSetup(octx, k.endpoint())
		cancel()
		if err == nil {
			break
		}
		b.add(func(b *bankState) { b.lastErr = err })
		k.r.failed(err)
		k.backoff(ctx)
	}
	db, err := openBank(k.r.endpoints(), k.r.w.OpTimeout)
	if err != nil {
		b.add(func(b *bankState) { b.bad = append(b.bad, "sqldriver: "+err.Error()) })
		return
	}
	defer db.Close()
	for n := 0; n < k.r.w.MaxOpsPerClient && ctx.Err() == nil; n++ {
		octx, cancel := context.WithTimeout(ctx, 2*k.r.w.OpTimeout)
		switch p := k.rng.Intn(100); {
		case p < 60:
			err = k.transfer(octx, db)
		case p < 85:
			err = k.auditTx(octx, db)
		default:
			err = k.auditSum(octx, db)
		}
		cancel()
		if err != nil {
			k.r.failed(err)
			b.add(func(b *bankState) {
				b.lastErr = err
				if errors.Is(err, sqldriver.ErrTxnConflict) {
					b.conflicts++
				} else {
					b.failed++
				}
			})
			k.backoff(ctx)
		}
	}
}

// transfer moves a random amount between two random accounts in one
// interactive transaction.
func (k *worker) transfer(ctx context.Context, db *sql.DB) error {
	from, to := k.rng.Intn(bankAccounts), k.rng.Intn(bankAccounts-1)
	if to >= from {
		to++
	}
	amount := 1 + k.rng.Intn(20)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var fb, tb int
	if err := tx.QueryRowContext(ctx, "SELECT bal FROM "+bankTable+" WHERE id = ?", from).Scan(&fb); err != nil {
		return err
	}
	if err := tx.QueryRowContext(ctx, "SELECT bal FROM "+bankTable+" WHERE id = ?", to).Scan(&tb); err != nil {
		return err
	}
	amount = min(amount, fb)
	if _, err := tx.ExecContext(ctx, "UPDATE "+bankTable+" SET bal = ? WHERE id = ?", fb-amount, from); err != nil {
		return err
	}
	// Read our own write back: the transaction must see it.
	var again int
	if err := tx.QueryRowContext(ctx, "SELECT bal FROM "+bankTable+" WHERE id = ?", from).Scan(&again); err != nil {
		return err
	}
	if again != fb-amount {
		k.r.bank.add(func(b *bankState) {
			b.bad = append(b.bad, fmt.Sprintf("a transaction read %d back after writing %d to account %d", again, fb-amount, from))
		})
	}
	if _, err := tx.ExecContext(ctx, "UPDATE "+bankTable+" SET bal = ? WHERE id = ?", tb+amount, to); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	k.r.bank.add(func(b *bankState) { b.transfers++ })
	return nil
}

// auditTx reads every balance in one read-only transaction, one statement
// per account. Any snapshot has the same total, so a different total, even
// in a transaction that then fails to commit, is a torn read.
func (k *worker) auditTx(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	sum := 0
	for i := range bankAccounts {
		var bal int
		if err := tx.QueryRowContext(ctx, "SELECT bal FROM "+bankTable+" WHERE id = ?", i).Scan(&bal); err != nil {
			return err
		}
		sum += bal
	}
	k.r.bank.add(func(b *bankState) {
		b.audits++
		if sum != bankTotal {
			b.bad = append(b.bad, fmt.Sprintf("a read-only transaction saw a total of %d, want %d", sum, bankTotal))
		}
	})
	return tx.Commit()
}

// auditSum reads the total in one statement at level linearizable.
func (k *worker) auditSum(ctx context.Context, db *sql.DB) error {
	var sum, n int
	if err := db.QueryRowContext(ctx, "SELECT COALESCE(SUM(bal), 0), COUNT(*) FROM "+bankTable).Scan(&sum, &n); err != nil {
		return err
	}
	k.r.bank.add(func(b *bankState) {
		b.audits++
		if sum != bankTotal || n != bankAccounts {
			b.bad = append(b.bad, fmt.Sprintf("SELECT SUM(bal) saw %d accounts totalling %d, want %d totalling %d", n, sum, bankAccounts, bankTotal))
		}
	})
	return nil
}

// checkBank adds the bank workload's findings to rep: the audits' and the
// final total's violations. Like checkSQL it runs after the cluster came
// back, and fails a workload that never committed a transfer.
func checkBank(ctx context.Context, t testing.TB, s Scenario, c Cluster, r *run, rep *Report) {
	t.Helper()
	if s.Workload.BankClients <= 0 {
		return
	}
	b := &r.bank
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.transfers == 0 {
		t.Errorf("%s: the bank clients committed no transfer (%d conflicts, %d failures, last error: %v)", s.Name, b.conflicts, b.failed, b.lastErr)
	}
	rep.Verdict.Violations = append(rep.Verdict.Violations, dedupe(b.bad)...)
	hc := newSQLHTTP()
	defer hc.CloseIdleConnections()
	var a *sqlAnswer
	var err error
	for _, ep := range c.Endpoints() {
		for {
			octx, cancel := context.WithTimeout(ctx, 10*time.Second)
			a, err = sqlDo(octx, hc, ep, "/db/query?level=linearizable", []any{"SELECT COALESCE(SUM(bal), 0), COUNT(*) FROM " + bankTable})
			cancel()
			if err == nil || pause(ctx, 200*time.Millisecond) != nil {
				break
			}
		}
		if err != nil {
			t.Fatalf("reading the bank total from %s after %s: %v", ep, s, err)
		}
		var sum, n int
		row := a.Results[0].Values
		if len(row) != 1 || len(row[0]) != 2 || json.Unmarshal(row[0][0], &sum) != nil || json.Unmarshal(row[0][1], &n) != nil {
			t.Fatalf("bank total from %s: unexpected answer %+v", ep, a.Results[0])
		}
		if sum != bankTotal || n != bankAccounts {
			rep.Verdict.Violations = append(rep.Verdict.Violations,
				fmt.Sprintf("after the run %s holds %d accounts totalling %d, want %d totalling %d", ep, n, sum, bankAccounts, bankTotal))
		}
	}
	t.Logf("%s: bank: %d transfers committed, %d conflicts, %d failed or unknown, %d audits", s.Name, b.transfers, b.conflicts, b.failed, b.audits)
}

// dedupe folds repeated messages into one with a count, keeping the order
// of first appearance.
func dedupe(msgs []string) []string {
	n := map[string]int{}
	var order []string
	for _, m := range msgs {
		if n[m] == 0 {
			order = append(order, m)
		}
		n[m]++
	}
	out := make([]string, len(order))
	for i, m := range order {
		out[i] = m
		if n[m] > 1 {
			out[i] = fmt.Sprintf("%s (%d times)", m, n[m])
		}
	}
	return out
}
