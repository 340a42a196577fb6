// Package lazyfs simulates, for tests, what a power loss does to files
// whose writes were not yet fsync'ed: the effect Jepsen's lazyfs produces,
// in process and without FUSE.
//
// A Disk watches the files under one root that concord syncs (every sync
// is reported through internal/syncwatch): at each fsync/fdatasync of a
// file it records the file's contents as durable, at each fsync of a
// directory the names in it.
// Crash then rewrites every watched file as a power loss may leave it:
// everything written since the file's last sync dropped, or a random
// prefix of it kept, or that prefix followed by a torn page of garbage; a
// name created since its directory's last sync removed, a name removed
// since then brought back with its durable contents.
//
// Freeze marks the crash instant: a sync after it blocks until Thaw, is
// not recorded, and then fails with ErrCrashed, so nothing the crashed
// writer syncs later counts as durable, nothing it would acknowledge on
// the strength of such a sync reaches anyone (while its network is cut),
// and a writer that propagates the failure (SQLite, raft's snapshot store:
// see internal/syncwatch) writes nothing that depends on that sync: a
// checkpoint copied into the database without its WAL being durable would
// be a state no real crash leaves.
//
// What reports syncs, and so what a Disk covers: node/wal (the raft log
// segments, the stable store, their directory), the node (node-id, and
// raft's snapshot store: each snapshot's files and directory once its
// sink's Close made them durable), sqlstore (the SQLite database, its
// -wal and journals through a VFS that wraps the default one, the files it
// syncs itself). A file nothing syncs (SQLite's -shm, temporary files) is
// lost whole at a crash, as a file never synced may be; a directory created
// under a watched one and not made durable by a sync of its parent is
// removed whole.
//
// Recording reads a node/wal file (one in a directory named "wal") from
// the page before the end of its previous durable contents onwards (they
// are append-mostly): a write further back than that, between two syncs,
// is not seen. The read stops at the first zero-filled 64 KiB chunk past
// the old end: node/wal's segments keep up to 1 MiB of preallocated zeros
// after their records. Any other file is read whole at each of its syncs
// (SQLite writes pages anywhere in its files).
package lazyfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/concord-db/concord/internal/syncwatch"
	"golang.org/x/sys/unix"
)

// Mode is what Crash does to the writes since a file's last sync.
type Mode int

const (
	// Drop loses every write since the last sync.
	Drop Mode = iota
	// Prefix keeps a random prefix of those writes (in file order).
	Prefix
	// Torn keeps a random prefix and fills the rest of its last 4 KiB page
	// with garbage, as a torn sector write leaves it.
	Torn
	nModes
)

func (m Mode) String() string {
	switch m {
	case Drop:
		return "drop"
	case Prefix:
		return "prefix"
	case Torn:
		return "torn"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

const (
	pageSize  = 4096
	chunkSize = 64 << 10
)

// Disk is the durable state of the files under one root.
type Disk struct {
	root string

	mu     sync.Mutex
	files  map[fileID]*record         // by inode: contents at the last sync
	dirs   map[string]map[string]bool // directory -> names at its last sync
	modes  []Mode
	frozen bool
	thaw   chan struct{}
}

// record is a file's durable contents and the path it was synced under.
type record struct {
	path string
	data []byte
}

// Loss is what one Crash did.
type Loss struct {
	Files   int   // files whose contents changed
	Removed int   // names removed: created after their directory's last sync
	Revived int   // names brought back: removed after their directory's last sync
	Bytes   int64 // un-synced bytes lost (dropped or torn)
	Modes   [nModes]int
}

func (l Loss) String() string {
	return fmt.Sprintf("%d files (drop %d, prefix %d, torn %d), %d bytes lost, %d names removed, %d revived",
		l.Files, l.Modes[Drop], l.Modes[Prefix], l.Modes[Torn], l.Bytes, l.Removed, l.Revived)
}

var (
	regMu sync.Mutex
	disks = map[string]*Disk{}
)

// New watches the files under root (which need not exist yet) from now
// on. Files there before New are taken as durable when first synced; call
// New before anything writes under root. Close stops watching.
func New(root string) *Disk {
	d := &Disk{root: filepath.Clean(root), files: map[fileID]*record{}, dirs: map[string]map[string]bool{},
		modes: []Mode{Drop, Prefix, Torn}, thaw: make(chan struct{})}
	close(d.thaw)
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := disks[d.root]; dup {
		panic("lazyfs: two disks for " + d.root)
	}
	disks[d.root] = d
	if len(disks) == 1 {
		syncwatch.Set(observe)
	}
	return d
}

// SetModes limits the modes Crash chooses from (all three by default).
func (d *Disk) SetModes(modes ...Mode) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(modes) > 0 {
		d.modes = modes
	}
}

// Close stops watching the root.
func (d *Disk) Close() {
	d.Thaw()
	regMu.Lock()
	defer regMu.Unlock()
	delete(disks, d.root)
	if len(disks) == 0 {
		syncwatch.Set(nil)
	}
}

// observe routes a sync to the Disk whose root holds the file.
func observe(path string) error {
	path = filepath.Clean(path)
	regMu.Lock()
	var d *Disk
	for root, disk := range disks {
		if path == root || strings.HasPrefix(path, root+string(filepath.Separator)) {
			d = disk
			break
		}
	}
	regMu.Unlock()
	if d != nil {
		return d.synced(path)
	}
	return nil
}

// ErrCrashed fails a sync made after Freeze: the disk has "lost power".
var ErrCrashed = errors.New("lazyfs: sync after the simulated crash")

// Freeze is the crash instant: later syncs under the root block until Thaw
// (or Crash), are not recorded, and fail with ErrCrashed.
func (d *Disk) Freeze() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.frozen {
		d.frozen, d.thaw = true, make(chan struct{})
	}
}

// Thaw lets blocked and later syncs return; they are still not recorded
// until Crash.
func (d *Disk) Thaw() {
	d.mu.Lock()
	defer d.mu.Unlock()
	select {
	case <-d.thaw:
	default:
		close(d.thaw)
	}
}

func (d *Disk) synced(path string) error {
	d.mu.Lock()
	if d.frozen {
		thaw := d.thaw
		d.mu.Unlock()
		<-thaw
		return ErrCrashed
	}
	defer d.mu.Unlock()
	fi, err := os.Stat(path)
	if err != nil {
		return nil
	}
	if fi.IsDir() {
		d.syncedDir(path)
		return nil
	}
	id, err := identify(path)
	if err != nil {
		return nil
	}
	rec := d.files[id]
	if rec == nil || rec.path != path {
		rec = &record{} // new, or renamed since: read it whole
		d.files[id] = rec
	}
	r, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer r.Close()
	rec.path = path
	if filepath.Base(filepath.Dir(path)) == "wal" {
		rec.data = readTail(r, rec.data, fi.Size())
	} else if data, err := io.ReadAll(r); err == nil {
		rec.data = data
	}
	if _, ok := d.dirs[filepath.Dir(path)]; !ok {
		d.dirs[filepath.Dir(path)] = nil // watched from now on; no listing yet
	}
	return nil
}

// syncedDir records dir's names as durable, and with them the renames and
// removals done in it since its last sync: a record follows its file to
// its new name, and the record of a file gone from dir is dropped.
func (d *Disk) syncedDir(dir string) {
	names, err := listNames(dir)
	if err != nil {
		return
	}
	d.dirs[dir] = names
	live := map[*record]bool{}
	for name := range names {
		p := filepath.Join(dir, name)
		id, err := identify(p)
		if err != nil {
			continue
		}
		if rec := d.files[id]; rec != nil {
			rec.path = p
			live[rec] = true
		}
	}
	for id, rec := range d.files {
		if filepath.Dir(rec.path) == dir && !live[rec] {
			delete(d.files, id)
		}
	}
}

// durable returns the contents a power loss leaves at path: its file's
// record if it was synced under this name, else the record of the file
// that had this name at the directory's last sync (a rename over it that
// is not durable yet: replaced is true, and that file comes back whole),
// else nothing.
func (d *Disk) durable(id fileID, path string) (data []byte, replaced bool) {
	if rec := d.files[id]; rec != nil && rec.path == path {
		return rec.data, false
	}
	for _, rec := range d.files {
		if rec.path == path {
			return rec.data, true
		}
	}
	return nil, false
}

// readTail returns f's contents (size bytes) given old, its contents at the
// previous sync: it re-reads from the page holding old's last non-zero byte.
func readTail(f *os.File, old []byte, size int64) []byte {
	end := int64(len(bytes.TrimRight(old, "\x00")))
	from := min(end/pageSize*pageSize, size)
	data := make([]byte, from, size)
	copy(data, old[:from])
	buf := make([]byte, chunkSize)
	for off := from; off < size; {
		n, err := f.ReadAt(buf[:min(int64(chunkSize), size-off)], off)
		data = append(data, buf[:n]...)
		off += int64(n)
		if err != nil && !errors.Is(err, io.EOF) || n == 0 {
			break
		}
		if off > end && n == chunkSize && allZero(buf[:n]) {
			data = data[:size] // the rest is preallocated zeros
			break
		}
	}
	return data
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// fileID tells files apart across renames and inode reuse: a file
// created where a removed one's inode number was freed gets a new birth
// time (where the file system records one; else only the inode counts).
type fileID struct {
	ino   uint64
	birth int64
}

func identify(path string) (fileID, error) {
	var st unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, path, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_INO|unix.STATX_BTIME, &st); err != nil {
		return fileID{}, err
	}
	id := fileID{ino: st.Ino}
	if st.Mask&unix.STATX_BTIME != 0 {
		id.birth = st.Btime.Sec*1e9 + int64(st.Btime.Nsec)
	}
	return id, nil
}

func listNames(dir string) (map[string]bool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, e := range entries {
		names[e.Name()] = true
	}
	return names, nil
}
