package sqlstore

import (
	"fmt"
	"strings"

	"github.com/ncruces/go-sqlite3"
)

// forbiddenPragmas change durability, journaling, locking or file layout.
var forbiddenPragmas = map[string]bool{
	"journal_mode": true, "synchronous": true, "locking_mode": true, "page_size": true,
	"auto_vacuum": true, "writable_schema": true, "temp_store_directory": true,
	"data_store_directory": true, "wal_autocheckpoint": true, "wal_checkpoint": true,
	"mmap_size": true, "journal_size_limit": true, "cell_size_check": true, "trusted_schema": true,
}

// statePragmas, when set, change how later statements on the same
// connection behave. The setting lives in the connection, not the file,
// so a member that restarted (or restored a snapshot) would apply the
// following writes differently: setting them is not deterministic.
var statePragmas = map[string]bool{
	"foreign_keys": true, "defer_foreign_keys": true, "recursive_triggers": true,
	"case_sensitive_like": true, "reverse_unordered_selects": true, "legacy_alter_table": true,
	"ignore_check_constraints": true, "query_only": true, "automatic_index": true,
	"count_changes": true, "full_column_names": true, "short_column_names": true,
	"temp_store": true, "cache_size": true, "busy_timeout": true, "analysis_limit": true,
}

// memberFuncs answer differently on different members (connection
// history, build, file layout): a write calling them is not deterministic.
var memberFuncs = map[string]bool{
	"total_changes": true, "sqlite_version": true, "sqlite_source_id": true,
	"sqlite_compileoption_used": true, "sqlite_compileoption_get": true, "sqlite_offset": true,
}

// metaTable holds the applied raft index and the last command's time,
// written in the same transaction as each apply: users may read it, never
// change it (a lowered applied index would make a restart apply entries
// twice).
const metaTable = "_concord_meta"

// judge decides one action SQLite's authorizer reports while preparing a
// user statement: nil, or an ErrForbidden / ErrNotDeterministic saying
// why not. write is true for statements that go through the log, where
// determinism matters; reads on pooled connections may not change the
// connection's state either.
func judge(action sqlite3.AuthorizerActionCode, name3rd, name4th string, write bool) error {
	switch action {
	case sqlite3.AUTH_INSERT, sqlite3.AUTH_UPDATE, sqlite3.AUTH_DELETE, sqlite3.AUTH_DROP_TABLE:
		if strings.EqualFold(name3rd, metaTable) {
			return fmt.Errorf("%w: %s is concord's own table (the applied index)", ErrForbidden, metaTable)
		}
	case sqlite3.AUTH_ALTER_TABLE, sqlite3.AUTH_CREATE_INDEX, sqlite3.AUTH_DROP_INDEX,
		sqlite3.AUTH_CREATE_TRIGGER, sqlite3.AUTH_DROP_TRIGGER:
		if strings.EqualFold(name4th, metaTable) {
			return fmt.Errorf("%w: %s is concord's own table (the applied index)", ErrForbidden, metaTable)
		}
	case sqlite3.AUTH_ATTACH, sqlite3.AUTH_DETACH:
		return fmt.Errorf("%w: ATTACH and DETACH", ErrForbidden)
	case sqlite3.AUTH_TRANSACTION, sqlite3.AUTH_SAVEPOINT:
		return fmt.Errorf("%w: transaction control inside a request (use ?transaction)", ErrForbidden)
	case sqlite3.AUTH_PRAGMA:
		name := strings.ToLower(name3rd)
		if forbiddenPragmas[name] {
			return fmt.Errorf("%w: PRAGMA %s (durability and file layout belong to concord)", ErrForbidden, name)
		}
		if statePragmas[name] && name4th != "" {
			if write {
				return fmt.Errorf("%w: setting PRAGMA %s changes only this member's connection", ErrNotDeterministic, name)
			}
			return fmt.Errorf("%w: setting PRAGMA %s in a query", ErrForbidden, name)
		}
	case sqlite3.AUTH_FUNCTION:
		name := strings.ToLower(name4th)
		if name == "load_extension" {
			return fmt.Errorf("%w: load_extension", ErrForbidden)
		}
		if write && memberFuncs[name] {
			return fmt.Errorf("%w: %s() differs between members", ErrNotDeterministic, name)
		}
	}
	return nil
}

// installAuthorizer denies, in user statements on the apply connection
// conn (while *user is true), everything judge refuses for a write:
// SQLite then fails the statement with "not authorized". It sees through
// triggers and nested expressions. Proposers check the same rules before
// proposing (inspect), so this is the backstop for statements whose
// tables did not exist yet when they were checked.
func installAuthorizer(conn *sqlite3.Conn, user *bool) error {
	return conn.SetAuthorizer(func(action sqlite3.AuthorizerActionCode, name3rd, name4th, _, _ string) sqlite3.AuthorizerReturnCode {
		if *user && judge(action, name3rd, name4th, true) != nil {
			return sqlite3.AUTH_DENY
		}
		return sqlite3.AUTH_OK
	})
}
