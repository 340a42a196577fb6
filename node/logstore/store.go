// Package logstore is the node's durable raft log and stable store: one
// bbolt file holding the log entries and raft's term and vote.
//
// It replaces hashicorp/raft-wal v0.4.0, whose tail truncation (raft
// deleting a follower's conflicting suffix) marks the tail segment sealed
// without writing its index block, so the log cannot be read after a
// restart (hashicorp/raft-wal#31; fixed upstream only after v0.4.0, which
// is the newest version the module proxy serves). Every change here is one
// bbolt transaction, fsynced before it returns, so a crash leaves either
// the old or the new log, never a mix.
package logstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
)

var (
	bucketLogs   = []byte("logs")
	bucketStable = []byte("stable")
)

// ErrKeyNotFound is returned by the stable store for a key never set; raft
// expects exactly this message for a missing key.
var ErrKeyNotFound = errors.New("not found")

// Store is a raft.LogStore and raft.StableStore in one bbolt file.
type Store struct {
	db *bolt.DB
}

var (
	_ raft.LogStore    = (*Store)(nil)
	_ raft.StableStore = (*Store)(nil)
)

// Open opens or creates the store at path.
func Open(path string) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:        5 * time.Second, // another process holds the file
		NoFreelistSync: true,            // the freelist is rebuilt on open: one write less per commit
		FreelistType:   bolt.FreelistMapType,
	})
	if err != nil {
		return nil, fmt.Errorf("open log store %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketLogs, bucketStable} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("initialize log store %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

func key(index uint64) []byte { return binary.BigEndian.AppendUint64(nil, index) }

// FirstIndex implements raft.LogStore: 0 if the log is empty.
func (s *Store) FirstIndex() (uint64, error) {
	var idx uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		if k, _ := tx.Bucket(bucketLogs).Cursor().First(); k != nil {
			idx = binary.BigEndian.Uint64(k)
		}
		return nil
	})
	return idx, err
}

// LastIndex implements raft.LogStore: 0 if the log is empty.
func (s *Store) LastIndex() (uint64, error) {
	var idx uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		if k, _ := tx.Bucket(bucketLogs).Cursor().Last(); k != nil {
			idx = binary.BigEndian.Uint64(k)
		}
		return nil
	})
	return idx, err
}

// GetLog implements raft.LogStore.
func (s *Store) GetLog(index uint64, log *raft.Log) error {
	return s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketLogs).Get(key(index))
		if v == nil {
			return raft.ErrLogNotFound
		}
		if err := decodeLog(v, log); err != nil {
			return fmt.Errorf("log entry %d: %w", index, err)
		}
		if log.Index != index {
			return fmt.Errorf("log entry %d: stored under the wrong index (%d)", index, log.Index)
		}
		return nil
	})
}

// StoreLog implements raft.LogStore.
func (s *Store) StoreLog(log *raft.Log) error { return s.StoreLogs([]*raft.Log{log}) }

// StoreLogs implements raft.LogStore: all entries in one fsynced transaction.
func (s *Store) StoreLogs(logs []*raft.Log) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLogs)
		var buf []byte
		for _, l := range logs {
			buf = encodeLog(buf[:0], l)
			// bbolt keeps the value slice until the commit: give it its own.
			if err := b.Put(key(l.Index), append([]byte(nil), buf...)); err != nil {
				return err
			}
		}
		return nil
	})
}

// DeleteRange implements raft.LogStore: removes [min, max] atomically.
func (s *Store) DeleteRange(min, max uint64) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketLogs).Cursor()
		for k, _ := c.Seek(key(min)); k != nil && binary.BigEndian.Uint64(k) <= max; k, _ = c.Next() {
			if err := c.Delete(); err != nil {
				return err
			}
		}
		return nil
	})
}

// Set implements raft.StableStore.
func (s *Store) Set(k, v []byte) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketStable).Put(k, append([]byte(nil), v...))
	})
}

// Get implements raft.StableStore.
func (s *Store) Get(k []byte) ([]byte, error) {
	var v []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if got := tx.Bucket(bucketStable).Get(k); got != nil {
			v = append([]byte(nil), got...)
		}
		return nil
	})
	if err == nil && v == nil {
		return nil, ErrKeyNotFound
	}
	return v, err
}

// SetUint64 implements raft.StableStore.
func (s *Store) SetUint64(k []byte, v uint64) error {
	return s.Set(k, binary.BigEndian.AppendUint64(nil, v))
}

// GetUint64 implements raft.StableStore: 0 for a key never set.
func (s *Store) GetUint64(k []byte) (uint64, error) {
	v, err := s.Get(k)
	if errors.Is(err, ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("stable key %q holds %d bytes, not a uint64", k, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}
