package sqlstore

// ReadOnly reports whether every statement of req prepares and only
// reads, as /db/request decides whether to serve req as a query. A
// request that does not prepare, or is refused, is not read-only: callers
// that authorize by it (the agent's SQL guard) then ask for write
// permission, the stricter one.
func (db *DB) ReadOnly(req Request) bool {
	readOnly, err := db.store.inspect(req)
	return readOnly && err == nil
}
