package sqldriver_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/concord-db/concord/agent/agenttest"
	"github.com/concord-db/concord/sqldriver"
)

// transient reports errors a fault makes for a moment (no leader, a
// member down, a request that timed out unanswered): the test retries.
func transient(err error) bool {
	var e *sqldriver.Error
	if errors.As(err, &e) && (e.Status == http.StatusServiceUnavailable || e.Status == http.StatusGatewayTimeout) {
		return true
	}
	return errors.Is(err, sqldriver.ErrOutcomeUnknown) || errors.Is(err, sqldriver.ErrTxnLost) || errors.Is(err, sqldriver.ErrUnavailable)
}

// endpoints lists members in the order given.
func endpoints(c *agenttest.Cluster, members ...int) []string {
	out := make([]string, len(members))
	for i, m := range members {
		out[i] = c.Endpoint(m)
	}
	return out
}

// transferLeadership moves leadership off the current leader, trying
// again while raft's transfer times out on a loaded machine (from any
// goroutine; failing for 30s is a test error).
func transferLeadership(t *testing.T, c *agenttest.Cluster) {
	deadline := time.Now().Add(30 * time.Second)
	var lastErr error
	for time.Now().Before(deadline) {
		for i := range c.Size() {
			a := c.Agent(i)
			if a == nil || !a.Node.IsLeader() {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			lastErr = a.Node.TransferLeadership(ctx, "")
			cancel()
			if lastErr == nil {
				return
			}
		}
		time.Sleep(50 * time.Millisecond) // between attempts, not a wait for a condition
	}
	t.Errorf("transfer leadership: %v", lastErr)
}

// TestClusterDriverBankWithLeaderChange runs the bank workload through
// every member of a three-member cluster, moving leadership away midway.
func TestClusterDriverBankWithLeaderChange(t *testing.T) {
	c := agenttest.Start(t, 3, agenttest.Options{})
	db := openDB(t, endpoints(c, c.Follower(), 0, 1, 2)...)
	db.SetMaxOpenConns(8)
	b := &bank{accounts: 5, initial: 100}
	b.setup(t, db)
	before := c.Leader()
	b.run(t, db, 3, 15, 1, func() { transferLeadership(t, c) }, transient)
	if after := c.Leader(); after == before {
		t.Fatalf("leadership stayed on member %d", before)
	}
	// Every member holds the same balances.
	for m := range c.Size() {
		one := openDB(t, c.Endpoint(m))
		var sum int
		if err := one.QueryRow("SELECT sum(bal) FROM acct").Scan(&sum); err != nil || sum != b.total() {
			t.Fatalf("member %d: total %d %v", m, sum, err)
		}
	}
}

// TestClusterDriverCommitExactlyOnceAcrossLeaderChanges: transactions
// committed through a follower while leadership moves twice are applied
// exactly once each: an acknowledged one once, an unknown one at most once.
func TestClusterDriverCommitExactlyOnceAcrossLeaderChanges(t *testing.T) {
	c := agenttest.Start(t, 3, agenttest.Options{})
	f := c.Follower()
	db := openDB(t, c.Endpoint(f))
	exec(t, db, "CREATE TABLE counter (n INTEGER)")
	exec(t, db, "INSERT INTO counter VALUES (0)")
	exec(t, db, "CREATE TABLE applied (k TEXT)")

	// Workers commit until the second leader change has been followed by
	// a commit (at most maxEach each), so the changes always fall amid
	// commits however fast this machine runs them or however many
	// conflict with each other.
	const workers, maxEach = 3, 2000
	var mu sync.Mutex
	acked := map[string]bool{}
	outcomes := map[string]int{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range maxEach {
				select {
				case <-stop:
					return
				default:
				}
				k := fmt.Sprintf("%d-%d", w, i)
				err := func() error {
					tx, err := db.Begin()
					if err != nil {
						return err
					}
					defer tx.Rollback()
					// Blind writes: a second application would pass the
					// result check, so only the node's sessions stop it.
					if _, err := tx.Exec("UPDATE counter SET n = n + 1"); err != nil {
						return err
					}
					if _, err := tx.Exec("INSERT INTO applied VALUES (?)", k); err != nil {
						return err
					}
					return tx.Commit()
				}()
				mu.Lock()
				switch {
				case err == nil:
					acked[k] = true
					outcomes["acknowledged"]++
				case errors.Is(err, sqldriver.ErrTxnConflict):
					outcomes["conflict"]++
				case transient(err):
					outcomes["transient"]++
				default:
					t.Errorf("worker %d: %v", w, err)
				}
				mu.Unlock()
				if err != nil && !errors.Is(err, sqldriver.ErrTxnConflict) && !transient(err) {
					return
				}
			}
		}()
	}
	stopWorkers := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopWorkers() // also when a wait below fails the test
	ackedNow := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}
	for range 2 {
		before := ackedNow()
		c.WaitFor(30*time.Second, "commits before the leader change", func() bool { return ackedNow() >= before+5 })
		transferLeadership(t, c)
		after := ackedNow()
		c.WaitFor(30*time.Second, "a commit after the leader change", func() bool { return ackedNow() > after })
	}
	stopWorkers()
	mu.Lock()
	t.Logf("outcomes: %v", outcomes)
	mu.Unlock()

	rows, err := db.Query("SELECT k, count(*) FROM applied GROUP BY k")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := map[string]bool{}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("transaction %s applied %d times", k, n)
		}
		seen[k] = true
	}
	for k := range acked {
		if !seen[k] {
			t.Errorf("acknowledged transaction %s is missing", k)
		}
	}
	var n int
	if err := db.QueryRow("SELECT n FROM counter").Scan(&n); err != nil || n != len(seen) {
		t.Fatalf("counter %d, %d transactions applied (%v)", n, len(seen), err)
	}
	t.Logf("%d acknowledged, %d applied", len(acked), len(seen))
}

// TestClusterDriverMemberCrashMidTransaction: the member holding open
// transactions (and commits in flight) is killed. Each transaction either
// committed whole or left nothing; an open one fails with ErrTxnLost; and
// the surviving members go on serving transactions.
func TestClusterDriverMemberCrashMidTransaction(t *testing.T) {
	c := agenttest.Start(t, 3, agenttest.Options{})
	victim := c.Leader()
	var others []int
	for i := range c.Size() {
		if i != victim {
			others = append(others, i)
		}
	}
	db := openDB(t, c.Endpoint(victim))
	exec(t, db, "CREATE TABLE pair (k TEXT, half INTEGER)")

	open, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	exec(t, open, "INSERT INTO pair VALUES ('open', 1)")

	// Commits racing with the crash.
	type outcome struct {
		k   string
		err error
	}
	out := make(chan outcome, 64)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := fmt.Sprintf("%d-%d", w, i)
				tx, err := db.Begin()
				if err == nil {
					_, err = tx.Exec("INSERT INTO pair VALUES (?, 1)", k)
					if err == nil {
						_, err = tx.Exec("INSERT INTO pair VALUES (?, 2)", k)
					}
					if err == nil {
						err = tx.Commit()
					} else {
						tx.Rollback()
					}
				}
				out <- outcome{k, err}
				if err != nil && !errors.Is(err, sqldriver.ErrTxnConflict) {
					return
				}
			}
		}()
	}
	committed := map[string]bool{}
	for len(committed) < 8 {
		o := <-out
		if errors.Is(o.err, sqldriver.ErrTxnConflict) {
			continue // concurrent inserts: the rowid the client saw changed
		}
		if o.err != nil {
			t.Fatalf("before the crash: %v", o.err)
		}
		committed[o.k] = true
	}
	c.Crash(victim)
	close(stop)
	go func() { wg.Wait(); close(out) }()
	for o := range out {
		if o.err == nil {
			committed[o.k] = true
		} else if !transient(o.err) && !errors.Is(o.err, sqldriver.ErrTxnConflict) {
			t.Errorf("transaction %s during the crash: %v (want ErrTxnLost, ErrOutcomeUnknown, ErrUnavailable or a 503)", o.k, o.err)
		}
	}
	if _, err := open.Exec("INSERT INTO pair VALUES ('open', 2)"); !errors.Is(err, sqldriver.ErrTxnLost) {
		t.Fatalf("statement of an open transaction after its member died: %v, want ErrTxnLost", err)
	}
	if err := open.Commit(); err == nil {
		t.Fatal("commit of a transaction whose member died succeeded")
	}

	survivors := openDB(t, endpoints(c, others...)...)
	var tx *sql.Tx
	c.WaitFor(30*time.Second, "a transaction through the survivors", func() bool {
		if tx, err = survivors.Begin(); err != nil {
			return false
		}
		if _, err = tx.Exec("INSERT INTO pair VALUES ('after', 1)"); err == nil {
			_, err = tx.Exec("INSERT INTO pair VALUES ('after', 2)")
		}
		if err == nil {
			err = tx.Commit()
		} else {
			tx.Rollback()
		}
		return err == nil
	})
	c.Restart(victim)

	rows, err := survivors.Query("SELECT k, count(*), sum(half) FROM pair GROUP BY k")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := map[string]bool{}
	for rows.Next() {
		var k string
		var n, sum int
		if err := rows.Scan(&k, &n, &sum); err != nil {
			t.Fatal(err)
		}
		if n != 2 || sum != 3 {
			t.Errorf("transaction %s is half applied: %d rows", k, n)
		}
		seen[k] = true
	}
	if seen["open"] {
		t.Error("the open transaction was applied")
	}
	for k := range committed {
		if !seen[k] {
			t.Errorf("acknowledged transaction %s is missing", k)
		}
	}
	if !seen["after"] {
		t.Error("the transaction after the crash is missing")
	}
}

// TestClusterDriverTLS: the DSN's cacert/cert/key reach a cluster whose
// client port requires client certificates; without the certificate the
// member refuses the connection.
func TestClusterDriverTLS(t *testing.T) {
	c := agenttest.Start(t, 3, agenttest.Options{TLS: true})
	q := "cacert=" + c.TLS.CA.CertFile + "&cert=" + c.TLS.Client.CertFile + "&key=" + c.TLS.Client.KeyFile
	db, err := sql.Open("concord", "concord://"+c.Endpoint(c.Follower())+"/?"+q)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exec(t, db, "CREATE TABLE t (v)")
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	exec(t, tx, "INSERT INTO t VALUES (1)")
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil || n != 1 {
		t.Fatalf("count %d %v", n, err)
	}
	noCert, err := sql.Open("concord", "concord://"+c.Endpoint(0)+"/?cacert="+c.TLS.CA.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	defer noCert.Close()
	if err := noCert.QueryRow("SELECT count(*) FROM t").Scan(&n); err == nil {
		t.Fatal("a client without a certificate was served")
	}
}
