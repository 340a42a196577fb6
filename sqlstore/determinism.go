package sqlstore

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/ncruces/go-sqlite3"
)

// clock is the apply connection's view of time and randomness for the
// statement being applied: set from the command before each statement.
type clock struct {
	now  string // the command's time as SQLite time text (UTC, ms)
	rand *rand.Rand
	priv *sqlite3.Conn // in-memory, no overrides: evaluates the real built-ins
}

const sqliteTimeFormat = "2006-01-02 15:04:05.000"

// setStatement points the clock at command c's time and at a PRNG
// seeded from c's seed and the statement's position.
func (k *clock) setStatement(ts int64, seed uint64, pos int) {
	k.now = time.Unix(0, ts).UTC().Format(sqliteTimeFormat)
	k.rand = rand.New(rand.NewPCG(seed, uint64(pos)))
}

// timeFuncs are SQLite's clock readers and the index of their time-value
// argument (strftime's first argument is the format).
var timeFuncs = map[string]int{
	"date": 0, "time": 0, "datetime": 0, "julianday": 0, "unixepoch": 0, "strftime": 1,
}

// installDeterminism overrides random(), randomblob() and every way SQLite
// reads the clock on the apply connection conn.
func installDeterminism(conn *sqlite3.Conn, k *clock) error {
	err := conn.CreateFunction("random", 0, sqlite3.INNOCUOUS, func(ctx sqlite3.Context, _ ...sqlite3.Value) {
		ctx.ResultInt64(int64(k.rand.Uint64()))
	})
	if err != nil {
		return err
	}
	err = conn.CreateFunction("randomblob", 1, sqlite3.INNOCUOUS, func(ctx sqlite3.Context, arg ...sqlite3.Value) {
		n := arg[0].Int64()
		if n < 1 {
			n = 1
		}
		if n > 1<<20 {
			ctx.ResultError(fmt.Errorf("randomblob(%d): larger than 1 MiB", n))
			return
		}
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(k.rand.Uint32())
		}
		ctx.ResultBlob(b)
	})
	if err != nil {
		return err
	}
	for name, timeArg := range timeFuncs {
		name, timeArg := name, timeArg
		err := conn.CreateFunction(name, -1, sqlite3.INNOCUOUS, func(ctx sqlite3.Context, arg ...sqlite3.Value) {
			args := make([]any, 0, len(arg)+1)
			for _, a := range arg {
				args = append(args, valueOf(a))
			}
			if len(args) <= timeArg {
				if name == "strftime" && len(args) == 0 {
					ctx.ResultNull()
					return
				}
				args = append(args, k.now)
			} else if s, ok := args[timeArg].(string); ok && strings.EqualFold(strings.TrimSpace(s), "now") {
				args[timeArg] = k.now
			}
			k.eval(ctx, name, args)
		})
		if err != nil {
			return err
		}
	}
	for name, fn := range map[string]string{
		"current_date": "date", "current_time": "time", "current_timestamp": "datetime",
	} {
		fn := fn
		err := conn.CreateFunction(name, 0, sqlite3.INNOCUOUS, func(ctx sqlite3.Context, _ ...sqlite3.Value) {
			k.eval(ctx, fn, []any{k.now})
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// eval runs the real built-in fn(args...) on the private connection and
// returns its value as ctx's result.
func (k *clock) eval(ctx sqlite3.Context, fn string, args []any) {
	q := "SELECT " + fn + "(" + strings.TrimSuffix(strings.Repeat("?,", len(args)), ",") + ")"
	st, _, err := k.priv.Prepare(q)
	if err != nil {
		ctx.ResultError(err)
		return
	}
	defer st.Close()
	for i, a := range args {
		if err := bindValue(st, i+1, a); err != nil {
			ctx.ResultError(err)
			return
		}
	}
	if !st.Step() {
		if err := st.Err(); err != nil {
			ctx.ResultError(err)
			return
		}
		ctx.ResultNull()
		return
	}
	switch v := columnValue(st, 0).(type) {
	case nil:
		ctx.ResultNull()
	case int64:
		ctx.ResultInt64(v)
	case float64:
		ctx.ResultFloat(v)
	case string:
		ctx.ResultText(v)
	case []byte:
		ctx.ResultBlob(v)
	}
}

func valueOf(v sqlite3.Value) any {
	switch v.Type() {
	case sqlite3.INTEGER:
		return v.Int64()
	case sqlite3.FLOAT:
		return v.Float()
	case sqlite3.TEXT:
		return v.Text()
	case sqlite3.BLOB:
		return v.Blob(nil)
	default:
		return nil
	}
}
