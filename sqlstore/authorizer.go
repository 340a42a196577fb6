package sqlstore

import (
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

// installAuthorizer denies, in user statements on conn (while *user is
// true), ATTACH/DETACH, transaction control, forbidden PRAGMAs and
// load_extension: SQLite then fails the statement with "not authorized".
// It sees through triggers and nested expressions.
func installAuthorizer(conn *sqlite3.Conn, user *bool) error {
	return conn.SetAuthorizer(func(action sqlite3.AuthorizerActionCode, name3rd, name4th, _, _ string) sqlite3.AuthorizerReturnCode {
		if !*user {
			return sqlite3.AUTH_OK
		}
		switch action {
		case sqlite3.AUTH_ATTACH, sqlite3.AUTH_DETACH, sqlite3.AUTH_TRANSACTION, sqlite3.AUTH_SAVEPOINT:
			return sqlite3.AUTH_DENY
		case sqlite3.AUTH_PRAGMA:
			if forbiddenPragmas[strings.ToLower(name3rd)] {
				return sqlite3.AUTH_DENY
			}
		case sqlite3.AUTH_FUNCTION:
			if strings.EqualFold(name4th, "load_extension") {
				return sqlite3.AUTH_DENY
			}
		}
		return sqlite3.AUTH_OK
	})
}
