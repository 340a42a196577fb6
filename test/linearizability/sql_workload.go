package linearizability

// The SQL workload: clients of the replicated SQLite database through
// rqlite's HTTP API (/db/execute, /db/query) on the members' client
// ports, each request to a random member (writes are forwarded to the
// leader, reads are served where they land). Two checks:
//
//   - register per row: rows lin_reg(id, v) are registers written with
//     UPDATE, compare-and-swapped with UPDATE ... WHERE v = expected (its
//     rows_affected says whether it took) and read with SELECT at level
//     linearizable; porcupine checks the history with the register model.
//   - durability: append-only INSERTs of unique tags into lin_dur; after
//     the final kill -9 of every member each acknowledged tag must be
//     there, and no tag may be there twice (a retried command applied
//     twice).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// SQL tables of the workload.
const (
	sqlRegTable = "lin_reg"
	sqlDurTable = "lin_dur"
)

// sqlReadLevel is the consistency level of the register reads:
// linearizable, or what CONCORD_SQL_READ_LEVEL says. Weakening it (none
// reads a partitioned follower's stale state) must make the check fail;
// that is how the check is shown to catch stale reads.
func sqlReadLevel() string {
	if l := os.Getenv("CONCORD_SQL_READ_LEVEL"); l != "" {
		return l
	}
	return "linearizable"
}

// SQLRegInput is a register operation on a row: the register model's
// input, kept a distinct type so that SQL rows are checked as a history
// of their own.
type SQLRegInput struct{ RegInput }

// SQLRegisterModel is RegisterModel over SQLRegInput operations.
var SQLRegisterModel = func() porcupine.Model {
	m := RegisterModel
	m.Partition = func(h []porcupine.Operation) [][]porcupine.Operation {
		conv := make([]porcupine.Operation, len(h))
		for i, op := range h {
			op.Input = op.Input.(SQLRegInput).RegInput
			conv[i] = op
		}
		return RegisterModel.Partition(conv)
	}
	return m
}()

// sqlState is the SQL workload's share of a run.
type sqlState struct {
	mu      sync.Mutex
	acked   []string // tags whose INSERT was acknowledged
	bad     []string // anomalies seen by the clients themselves
	ops     int      // SQL operations attempted, to catch a face that never answered
	lastErr error
}

func (s *sqlState) note(format string, args ...any) {
	s.mu.Lock()
	s.bad = append(s.bad, fmt.Sprintf(format, args...))
	s.mu.Unlock()
}

// sqlAnswer is the part of rqlite's response the workload reads.
type sqlAnswer struct {
	Results []struct {
		Error        string              `json:"error"`
		RowsAffected int64               `json:"rows_affected"`
		Values       [][]json.RawMessage `json:"values"`
	} `json:"results"`
	Error string `json:"error"`
}

// sqlDo posts statements to one member and returns the single result's
// answer; any failure (transport, a status other than 200, a statement
// error) is an error: the operation's outcome is then unknown.
func sqlDo(ctx context.Context, hc *http.Client, endpoint, path string, stmts ...[]any) (*sqlAnswer, error) {
	body, err := json.Marshal(stmts)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+endpoint+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var a sqlAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("%s%s: HTTP %d, undecodable body %q", endpoint, path, resp.StatusCode, b)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s%s: HTTP %d: %s", endpoint, path, resp.StatusCode, a.Error)
	}
	if len(a.Results) != len(stmts) {
		return nil, fmt.Errorf("%s%s: %d results for %d statements", endpoint, path, len(a.Results), len(stmts))
	}
	for _, r := range a.Results {
		if r.Error != "" {
			return nil, fmt.Errorf("%s%s: statement failed: %s", endpoint, path, r.Error)
		}
	}
	return &a, nil
}

// sqlSetup creates the tables and the register rows (v = ”, the model's
// initial state). Every SQL client runs it before its first operation:
// it is idempotent and never changes a row that exists.
func sqlSetup(ctx context.Context, hc *http.Client, endpoint string, keys int) error {
	stmts := [][]any{
		{"CREATE TABLE IF NOT EXISTS " + sqlRegTable + " (id INTEGER PRIMARY KEY, v TEXT NOT NULL)"},
		{"CREATE TABLE IF NOT EXISTS " + sqlDurTable + " (tag TEXT NOT NULL)"},
	}
	for i := range keys {
		stmts = append(stmts, []any{"INSERT OR IGNORE INTO " + sqlRegTable + "(id, v) VALUES(?, '')", i})
	}
	_, err := sqlDo(ctx, hc, endpoint, "/db/execute?transaction", stmts...)
	return err
}

func newSQLHTTP() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4, IdleConnTimeout: 30 * time.Second}}
}

// endpoint picks a random member for the next request.
func (k *worker) endpoint() string {
	eps := k.r.endpoints()
	return eps[k.rng.Intn(len(eps))]
}

func (k *worker) sqlLoop(ctx context.Context) {
	hc := newSQLHTTP()
	defer hc.CloseIdleConnections()
	for ctx.Err() == nil {
		octx, cancel := context.WithTimeout(ctx, k.r.w.OpTimeout)
		err := sqlSetup(octx, hc, k.endpoint(), k.r.w.Keys)
		cancel()
		if err == nil {
			break
		}
		k.sqlFailed(err)
		k.backoff(ctx)
	}
	seen := map[string]string{}
	for n := 0; n < k.r.w.MaxOpsPerClient && ctx.Err() == nil; n++ {
		p := k.rng.Intn(100)
		if p < k.r.w.DurablePercent {
			k.sqlInsert(ctx, hc)
			continue
		}
		id := k.rng.Intn(k.r.w.Keys)
		key := "sql/" + strconv.Itoa(id)
		last, haveLast := seen[key]
		switch {
		case p < 55 || (p >= 80 && !haveLast):
			out, ok := k.sqlOp(ctx, SQLRegInput{RegInput{Op: "get", Key: key}}, func(ctx context.Context) (RegOutput, error) {
				a, err := sqlDo(ctx, hc, k.endpoint(), "/db/query?level="+sqlReadLevel(),
					[]any{"SELECT v FROM " + sqlRegTable + " WHERE id = ?", id})
				if err != nil {
					return RegOutput{}, err
				}
				rows := a.Results[0].Values
				if len(rows) != 1 || len(rows[0]) != 1 {
					k.r.sql.note("SELECT of register row %d found %d rows, want 1", id, len(rows))
					return RegOutput{Value: "<row missing>"}, nil
				}
				var v string
				if err := json.Unmarshal(rows[0][0], &v); err != nil {
					return RegOutput{}, fmt.Errorf("row %d: value %s: %w", id, rows[0][0], err)
				}
				return RegOutput{Value: v}, nil
			})
			if ok {
				seen[key] = out.Value
			}
		case p < 80:
			in := SQLRegInput{RegInput{Op: "put", Key: key, Value: k.value()}}
			k.sqlOp(ctx, in, func(ctx context.Context) (RegOutput, error) {
				a, err := sqlDo(ctx, hc, k.endpoint(), "/db/execute",
					[]any{"UPDATE " + sqlRegTable + " SET v = ? WHERE id = ?", in.Value, id})
				if err != nil {
					return RegOutput{}, err
				}
				if n := a.Results[0].RowsAffected; n != 1 {
					k.r.sql.note("UPDATE of register row %d to %q affected %d rows, want 1", id, in.Value, n)
				}
				return RegOutput{}, nil
			})
		default:
			in := SQLRegInput{RegInput{Op: "cas", Key: key, Value: k.value(), Expect: last}}
			k.sqlOp(ctx, in, func(ctx context.Context) (RegOutput, error) {
				a, err := sqlDo(ctx, hc, k.endpoint(), "/db/execute",
					[]any{"UPDATE " + sqlRegTable + " SET v = ? WHERE id = ? AND v = ?", in.Value, id, last})
				if err != nil {
					return RegOutput{}, err
				}
				n := a.Results[0].RowsAffected
				if n > 1 {
					k.r.sql.note("conditional UPDATE of register row %d affected %d rows", id, n)
				}
				return RegOutput{OK: n == 1}, nil
			})
			delete(seen, key)
		}
	}
}

// sqlOp runs one register operation with the operation timeout and
// records it; a failure is recorded as unknown.
func (k *worker) sqlOp(ctx context.Context, in SQLRegInput, fn func(context.Context) (RegOutput, error)) (RegOutput, bool) {
	call := k.r.rec.Now()
	octx, cancel := context.WithTimeout(ctx, k.r.w.OpTimeout)
	out, err := fn(octx)
	cancel()
	k.r.sql.mu.Lock()
	k.r.sql.ops++
	k.r.sql.mu.Unlock()
	if err != nil {
		k.sqlFailed(err)
		k.r.rec.Add(Op{Client: k.client, Call: call, Unknown: true, Input: in, Output: RegOutput{Unknown: true}})
		k.client = k.r.rec.NewClient()
		k.backoff(ctx)
		return RegOutput{}, false
	}
	k.r.rec.Add(Op{Client: k.client, Call: call, Return: k.r.rec.Now(), Input: in, Output: out})
	return out, true
}

func (k *worker) sqlFailed(err error) {
	k.r.failed(err)
	k.r.sql.mu.Lock()
	k.r.sql.lastErr = err
	k.r.sql.mu.Unlock()
}

// sqlInsert appends a unique tag; acknowledged, it must survive.
func (k *worker) sqlInsert(ctx context.Context, hc *http.Client) {
	tag := "sql-" + k.value()
	octx, cancel := context.WithTimeout(ctx, k.r.w.OpTimeout)
	a, err := sqlDo(octx, hc, k.endpoint(), "/db/execute", []any{"INSERT INTO " + sqlDurTable + "(tag) VALUES(?)", tag})
	cancel()
	if err != nil {
		k.sqlFailed(err)
		k.backoff(ctx)
		return
	}
	if n := a.Results[0].RowsAffected; n != 1 {
		k.r.sql.note("INSERT of %s affected %d rows, want 1", tag, n)
	}
	k.r.sql.mu.Lock()
	k.r.sql.acked = append(k.r.sql.acked, tag)
	k.r.sql.mu.Unlock()
}
