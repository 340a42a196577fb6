package sqlstore

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/ncruces/go-sqlite3"
)

// With synchronous=NORMAL, SQLite syncs only when it checkpoints (the WAL,
// then the database file after copying pages into it), and by default the
// connection whose commit pushes the WAL past 1000 pages checkpoints,
// inside that commit: here the apply connection, on raft's apply
// goroutine. A checkpointer of its own takes that work off the apply
// path: it runs PRAGMA wal_checkpoint(PASSIVE) every checkpointInterval
// on a connection of its own, which never blocks the writer. The apply
// connection still checkpoints by itself past applyCheckpointPages, so
// the WAL stays bounded if the checkpointer falls behind or a long read
// (a snapshot's backup) holds it back.
const (
	checkpointInterval   = 50 * time.Millisecond
	applyCheckpointPages = 10000 // 40 MiB of 4 KiB pages
)

// checkpointer is the running background checkpoint loop.
type checkpointer struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// startCheckpointer opens the checkpoint connection and starts its loop;
// reopen calls it once the database is open.
func (s *Store) startCheckpointer() error {
	conn, err := openDB(filepath.Join(s.cfg.Dir, dbFileName), sqlite3.OPEN_READWRITE|sqlite3.OPEN_CREATE)
	if err != nil {
		return fmt.Errorf("sqlstore: open checkpoint connection: %w", err)
	}
	// A checkpoint syncs as its own connection's synchronous says.
	if err := conn.Exec("PRAGMA synchronous=NORMAL"); err != nil {
		conn.Close()
		return fmt.Errorf("sqlstore: checkpoint connection: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	s.ckpt = checkpointer{cancel: cancel, done: done}
	go func() {
		defer close(done)
		defer conn.Close()
		t := time.NewTicker(checkpointInterval)
		defer t.Stop()
		failing := false
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			err := conn.Exec("PRAGMA wal_checkpoint(PASSIVE)")
			if err != nil && !failing {
				s.cfg.Logger.Warn("sqlstore: background checkpoint failed; apply checkpoints by itself past the limit",
					"err", err, "limit_pages", applyCheckpointPages)
			}
			failing = err != nil
		}
	}()
	return nil
}

// stop ends the loop and closes its connection.
func (c *checkpointer) stop() {
	if c.cancel != nil {
		c.cancel()
		<-c.done
		c.cancel = nil
	}
}
