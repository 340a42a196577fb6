package etcdapi

// acquireWatch counts a new watcher against the connection's cap; false
// means the create is refused.
func (ws *watchStream) acquireWatch() bool {
	return ws.conn.AcquireWatch()
}

// dropLocked removes watcher id from the stream and uncounts it from the
// connection. ws.mu is held.
func (ws *watchStream) dropLocked(id int64) {
	if _, ok := ws.watchers[id]; ok {
		delete(ws.watchers, id)
		ws.conn.ReleaseWatch()
	}
}
