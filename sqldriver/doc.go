// Package sqldriver is a database/sql driver for concord's replicated
// SQLite database. Importing it registers the driver "concord":
//
//	import _ "github.com/concord-db/concord/sqldriver"
//
//	db, err := sql.Open("concord", "concord://host1:2379,host2:2379/?level=linearizable")
//
// It talks to the members' client ports over HTTP (rqlite's API and
// concord's /db/tx endpoints; see docs/sql.md). Exec outside a
// transaction is one write through the log (/db/execute); Query is a read
// at the DSN's level (/db/request, so INSERT ... RETURNING works too).
//
// Any member serves any request: it forwards writes to the leader, and the
// node retries a write across leader changes without applying it twice.
// The driver therefore moves to another member only when a request cannot
// have had an effect (the connection was refused, or it was a read); a
// write that was sent and got no answer fails with ErrOutcomeUnknown
// instead of being sent again.
//
// BeginTx starts an interactive transaction, serializable (strictly: in
// real-time order) whatever isolation level is asked, on one member that
// holds it until Commit or Rollback. Statements inside it see its own
// writes; every result it shows is consistent with one state of the
// database. Commit fails with ErrTxnConflict when something the
// transaction read or wrote changed before it could apply: run the
// transaction again. ErrTxnLost means the member that held it restarted
// or went away: nothing of it was applied.
//
// Values: INTEGER → int64 (exact past 2^53), REAL → float64, TEXT →
// string, BLOB → []byte, NULL → nil, and TEXT in a column declared DATE,
// DATETIME, TIMESTAMP or TIME → time.Time when it parses. Arguments are
// positional (?) or named (sql.Named with :name, @name or $name), not both
// in one statement; a time.Time is sent as "2006-01-02 15:04:05.999999999-07:00".
package sqldriver
