package lazyfs

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Crash rewrites the watched files as a power loss at the Freeze may leave
// them (Freeze first if the caller did not), choosing each file's Mode with
// rng, then takes what is on disk now as durable and thaws. Call it once
// the writer has stopped: its files must be closed.
func (d *Disk) Crash(rng *rand.Rand) (Loss, error) {
	d.Freeze()
	defer d.Thaw()
	d.mu.Lock()
	defer d.mu.Unlock()
	var loss Loss
	dirs := make([]string, 0, len(d.dirs))
	for dir := range d.dirs {
		dirs = append(dirs, dir)
	}
	sort.Strings(dirs) // rng draws in a fixed order: a seed replays
	for _, dir := range dirs {
		if err := d.crashDir(dir, rng, &loss); err != nil {
			return loss, fmt.Errorf("lazyfs: crash %s: %w", dir, err)
		}
	}
	if err := d.rebase(dirs); err != nil {
		return loss, err
	}
	d.frozen = false
	return loss, nil
}

// crashDir loses what was not durable in dir.
func (d *Disk) crashDir(dir string, rng *rand.Rand, loss *Loss) error {
	now, err := listNames(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	durable := d.dirs[dir] // nil: never synced, every name counts as durable
	names := make([]string, 0, len(now))
	for name := range now {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		path := filepath.Join(dir, name)
		fi, err := os.Lstat(path)
		if err != nil {
			return err
		}
		if fi.IsDir() && durable != nil && !durable[name] {
			// Created (or renamed into place) after dir's last sync: a
			// snapshot whose sink did not finish, a temporary directory.
			if err := os.RemoveAll(path); err != nil {
				return err
			}
			loss.Removed++
			continue
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		if durable != nil && !durable[name] {
			if err := os.Remove(path); err != nil {
				return err
			}
			loss.Removed++
			loss.Bytes += fi.Size()
			continue
		}
		id, err := identify(path)
		if err != nil {
			return err
		}
		old, replaced := d.durable(id, path)
		cur, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		mode := d.modes[rng.Intn(len(d.modes))]
		next, lost := lose(old, cur, mode, rng)
		if replaced { // the rename over path is lost: the old file is back
			mode, next, lost = Drop, old, int64(len(cur))
		}
		if lost == 0 && bytes.Equal(next, cur) {
			continue
		}
		if err := os.WriteFile(path, next, fi.Mode().Perm()); err != nil {
			return err
		}
		loss.Files++
		loss.Modes[mode]++
		loss.Bytes += lost
	}
	for name := range durable {
		if now[name] {
			continue
		}
		path := filepath.Join(dir, name)
		revived := false
		for _, rec := range d.files {
			switch {
			case rec.path == path:
				if err := os.WriteFile(path, rec.data, 0o600); err != nil {
					return err
				}
				revived = true
			case strings.HasPrefix(rec.path, path+string(filepath.Separator)):
				// A directory removed since dir's last sync (raft reaping an
				// old snapshot): it comes back with the files recorded in it.
				if err := os.MkdirAll(filepath.Dir(rec.path), 0o700); err != nil {
					return err
				}
				if err := os.WriteFile(rec.path, rec.data, 0o600); err != nil {
					return err
				}
				revived = true
			}
		}
		if revived {
			loss.Revived++
		}
	}
	return nil
}

// lose returns what a power loss may leave of a file whose contents were
// old at its last sync and are cur now, and how many of cur's bytes since
// then it lost. The un-synced writes are taken to be cur from the first
// byte where it differs from old onwards.
func lose(old, cur []byte, mode Mode, rng *rand.Rand) ([]byte, int64) {
	p := 0
	for p < len(old) && p < len(cur) && old[p] == cur[p] {
		p++
	}
	if p == len(cur) && len(old) <= len(cur) {
		return cur, 0 // nothing written since the sync
	}
	q := len(cur) // the end of the un-synced writes: past it cur matches old
	for q > p && q <= len(old) && old[q-1] == cur[q-1] {
		q--
	}
	keep := p
	if mode != Drop {
		keep = p + rng.Intn(q-p+1)
	}
	next := append([]byte{}, cur[:keep]...)
	if mode == Torn && keep < q {
		// Garbage to the end of keep's page, but only in a page written
		// since the sync and only over the un-synced range: a torn write
		// garbles the sector being written, never bytes nobody wrote
		// (SQLite counts on that: powersafe overwrite).
		ps := keep / pageSize * pageSize
		pe := min(ps+pageSize, q)
		if !bytes.Equal(old[min(ps, len(old)):min(pe, len(old))], cur[ps:pe]) || pe > len(old) {
			garbage := make([]byte, pe-keep)
			rng.Read(garbage)
			next = append(next, garbage...)
		}
	}
	if len(old) > len(next) {
		next = append(next, old[len(next):]...)
	}
	return next, int64(q - keep)
}

// rebase takes what is on disk now as durable: the state a restarted
// writer starts from.
func (d *Disk) rebase(dirs []string) error {
	d.files = map[fileID]*record{}
	for _, dir := range dirs {
		names, err := listNames(dir)
		if errors.Is(err, os.ErrNotExist) {
			delete(d.dirs, dir)
			continue
		}
		if err != nil {
			return fmt.Errorf("lazyfs: list %s: %w", dir, err)
		}
		d.dirs[dir] = names
		for name := range names {
			path := filepath.Join(dir, name)
			fi, err := os.Lstat(path)
			if err != nil {
				return fmt.Errorf("lazyfs: %w", err)
			}
			if !fi.Mode().IsRegular() {
				continue
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return fmt.Errorf("lazyfs: %w", err)
			}
			id, err := identify(path)
			if err != nil {
				return fmt.Errorf("lazyfs: %w", err)
			}
			d.files[id] = &record{path: path, data: data}
		}
	}
	return nil
}
