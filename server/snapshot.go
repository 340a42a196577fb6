package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/concord-db/concord/node"
	"github.com/concord-db/concord/snapshot"
)

// SnapshotNode is what the snapshot endpoints need from the node. *node.Node
// implements it.
type SnapshotNode interface {
	snapshot.Source
	snapshot.ConfigSource
	snapshot.FileTarget
	Rollback(ctx context.Context, r io.Reader) error
	ID() string
	IsLeader() bool
	Leader() (id, addr string, err error)
	Members(ctx context.Context) ([]node.Member, error)
	ReadBarrier(ctx context.Context) error
	AppliedIndex() uint64
}

var _ SnapshotNode = (*node.Node)(nil)

// DefaultMaxRestoreBytes caps a restore upload unless configured otherwise.
const DefaultMaxRestoreBytes = snapshot.DefaultMaxStateSize

// ForwardedHeader marks a restore request forwarded by a follower to the
// leader; a node that receives one and is not the leader refuses it rather
// than forwarding it again.
const ForwardedHeader = "X-Concord-Forwarded-By"

// Trailers of GET /v1/snapshot, sent after the archive.
const (
	SnapshotChecksumTrailer = "X-Concord-Snapshot-Checksum" // sha-256=<base64> of the whole archive
	SnapshotIndexTrailer    = "X-Concord-Snapshot-Index"
	SnapshotSizeTrailer     = "X-Concord-Snapshot-Size"
)

// Error codes of the snapshot endpoints (see docs/snapshots.md).
const (
	CodeSnapshotCorrupt  = "snapshot_corrupt"
	CodeSnapshotChecksum = "snapshot_checksum"
	CodeSnapshotSeal     = "snapshot_seal"
	CodeSnapshotVersion  = "snapshot_version"
	CodeSnapshotTooLarge = "snapshot_too_large"
	CodeRestoreRunning   = "restore_running"
)

// SnapshotConfig configures GET /v1/snapshot and POST /v1/snapshot/restore.
type SnapshotConfig struct {
	// Node takes and restores the snapshots. Required.
	Node SnapshotNode
	// TempDir is where state.bin is spooled while an archive is written or
	// verified. Default os.TempDir(). It needs room for one state.bin per
	// concurrent request.
	TempDir string
	// MaxRestoreBytes caps a restore upload (and the state.bin inside it).
	// Default DefaultMaxRestoreBytes (64 GiB). It is the only cap: the
	// client port's MaxBodyBytes does not apply.
	MaxRestoreBytes int64
	// ConvergeTimeout bounds how long a restore waits for every member to
	// apply it before answering (the restore itself is done by then).
	// Default 30s.
	ConvergeTimeout time.Duration
	// Now is the clock recorded in archives. Default time.Now.
	Now func() time.Time
	// Client forwards restores from followers to the leader. Default: a
	// client without a timeout (uploads can be large).
	Client *http.Client
}

// snapshots serves the snapshot endpoints.
type snapshots struct {
	cfg       SnapshotConfig
	logger    interface{ Warn(string, ...any) }
	restoring sync.Mutex
}

func newSnapshots(cfg SnapshotConfig, s *Server) *snapshots {
	if cfg.MaxRestoreBytes <= 0 {
		cfg.MaxRestoreBytes = DefaultMaxRestoreBytes
	}
	if cfg.ConvergeTimeout <= 0 {
		cfg.ConvergeTimeout = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{}
	}
	return &snapshots{cfg: cfg, logger: s.cfg.Logger}
}

// WriteArchive writes an archive of the live state to w: after a read
// barrier (so it holds every write acknowledged before the call), the node
// takes a snapshot and snapshot.Write wraps it. Maintenance.Snapshot of the
// etcd API serves the same thing (agent wires it).
func (c SnapshotConfig) WriteArchive(ctx context.Context, w io.Writer) (*snapshot.Archive, error) {
	if err := c.Node.ReadBarrier(ctx); err != nil {
		return nil, fmt.Errorf("snapshot: read barrier: %w", err)
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	return snapshot.Write(ctx, w, c.Node, snapshot.WriteOptions{Created: now(), TempDir: c.TempDir})
}

func (s *Server) snapshotRoutes() map[string]http.HandlerFunc {
	if s.snaps == nil {
		return nil
	}
	return map[string]http.HandlerFunc{
		"GET /v1/snapshot":          s.snaps.save,
		"POST /v1/snapshot/restore": s.snaps.restore,
	}
}

// save streams an archive of the live state. Errors found before the first
// byte are JSON error bodies; after it, the connection is cut, so the
// client sees a truncated archive (which every reader refuses).
func (sn *snapshots) save(w http.ResponseWriter, r *http.Request) {
	if len(r.URL.Query()) > 0 {
		writeError(w, badRequest("GET /v1/snapshot takes no query parameters (sealing is done by the client: concord snapshot save --seal-key)"))
		return
	}
	lw := &lazyWriter{w: w}
	a, err := sn.cfg.WriteArchive(r.Context(), lw)
	if err != nil {
		if !lw.started {
			writeError(w, snapshotError(err))
			return
		}
		sn.logger.Warn("snapshot stream failed after it started", "err", err)
		panic(http.ErrAbortHandler)
	}
	w.Header().Set(SnapshotChecksumTrailer, a.Checksum())
	w.Header().Set(SnapshotIndexTrailer, strconv.FormatUint(a.Index(), 10))
	w.Header().Set(SnapshotSizeTrailer, strconv.FormatInt(a.Size(), 10))
}

// lazyWriter sends the response headers on the first write.
type lazyWriter struct {
	w       http.ResponseWriter
	started bool
}

func (l *lazyWriter) Write(p []byte) (int, error) {
	if !l.started {
		l.started = true
		h := l.w.Header()
		h.Set("Content-Type", "application/gzip")
		h.Set("Content-Disposition", `attachment; filename="concord.snap"`)
		h.Set("Trailer", SnapshotChecksumTrailer+", "+SnapshotIndexTrailer+", "+SnapshotSizeTrailer)
		l.w.WriteHeader(http.StatusOK)
	}
	return l.w.Write(p)
}

// RestoreResponse is the body of a successful POST /v1/snapshot/restore.
type RestoreResponse struct {
	// Archive describes the archive restored.
	Archive snapshot.Meta `json:"archive"`
	// Checksum and Size are the uploaded archive's.
	Checksum string `json:"checksum"`
	Size     int64  `json:"size"`
	// Leader is the member that installed it; AppliedIndex is the raft index
	// at which every member holds the restored state.
	Leader       string `json:"leader"`
	AppliedIndex uint64 `json:"applied_index"`
	// Members lists each member's applied index when the answer was sent.
	Members []MemberResponse `json:"members"`
	// Converged says every member applied AppliedIndex within the
	// server's ConvergeTimeout; if false, the others catch up later (the
	// restore is committed either way).
	Converged bool `json:"converged"`
}

// restore installs an uploaded archive through the leader. On a follower
// the request is forwarded to the leader's client address.
func (sn *snapshots) restore(w http.ResponseWriter, r *http.Request) {
	if len(r.URL.Query()) > 0 {
		writeError(w, badRequest("POST /v1/snapshot/restore takes no query parameters"))
		return
	}
	n := sn.cfg.Node
	if !n.IsLeader() {
		if by := r.Header.Get(ForwardedHeader); by != "" {
			writeError(w, fmt.Errorf("restore forwarded by %s reached %s, which is not the leader (any more): %w", by, n.ID(), node.ErrNotLeader))
			return
		}
		sn.forward(w, r)
		return
	}
	if !sn.restoring.TryLock() {
		writeError(w, &apiError{http.StatusConflict, CodeRestoreRunning, "another restore is running on this node"})
		return
	}
	defer sn.restoring.Unlock()
	ctx := r.Context()
	body := http.MaxBytesReader(w, r.Body, sn.cfg.MaxRestoreBytes)
	a, err := snapshot.Restore(ctx, body, n, snapshot.VerifyOptions{
		SkipSeal:     true, // the client checked the seal; the server holds no key
		MaxStateSize: sn.cfg.MaxRestoreBytes,
		TempDir:      sn.cfg.TempDir,
	})
	if err != nil {
		writeError(w, snapshotError(err))
		return
	}
	resp := RestoreResponse{Archive: a.Meta, Checksum: a.Checksum(), Size: a.Size(), Leader: n.ID(), AppliedIndex: n.AppliedIndex()}
	resp.Members, resp.Converged = sn.converge(ctx, resp.AppliedIndex)
	writeJSON(w, http.StatusOK, resp)
}

// converge waits (up to ConvergeTimeout) until every member applied index.
func (sn *snapshots) converge(ctx context.Context, index uint64) ([]MemberResponse, bool) {
	ctx, cancel := context.WithTimeout(ctx, sn.cfg.ConvergeTimeout)
	defer cancel()
	var out []MemberResponse
	for {
		ms, err := sn.cfg.Node.Members(ctx)
		done := err == nil
		out = out[:0]
		for _, m := range ms {
			out = append(out, memberResponse(m))
			done = done && m.Reachable && m.Status.AppliedIndex >= index
		}
		if done {
			return out, true
		}
		select {
		case <-ctx.Done():
			return out, false
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// forward sends the restore to the leader's client address and relays the
// answer.
func (sn *snapshots) forward(w http.ResponseWriter, r *http.Request) {
	n := sn.cfg.Node
	leaderID, _, err := n.Leader()
	if err != nil {
		writeError(w, err)
		return
	}
	ms, err := n.Members(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	var addr string
	for _, m := range ms {
		if m.ID == leaderID {
			addr = m.ClientAddr
		}
	}
	if addr == "" {
		writeError(w, fmt.Errorf("the leader %s has not published its client address; send the restore to it directly: %w", leaderID, node.ErrNotLeader))
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, baseURL(addr)+"/v1/snapshot/restore",
		http.MaxBytesReader(w, r.Body, sn.cfg.MaxRestoreBytes))
	if err != nil {
		writeError(w, err)
		return
	}
	req.ContentLength = r.ContentLength
	req.Header.Set("Content-Type", r.Header.Get("Content-Type"))
	req.Header.Set(ForwardedHeader, n.ID())
	if a := r.Header.Get("Authorization"); a != "" {
		req.Header.Set("Authorization", a) // the leader checks the same user
	}
	resp, err := sn.cfg.Client.Do(req)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, snapshotError(err))
			return
		}
		writeError(w, &apiError{http.StatusBadGateway, CodeNoLeader, fmt.Sprintf("forwarding the restore to the leader %s at %s: %v", leaderID, addr, err)})
		return
	}
	defer resp.Body.Close()
	for _, k := range []string{"Content-Type"} {
		w.Header().Set(k, resp.Header.Get(k))
	}
	w.Header().Set("X-Concord-Restored-By", leaderID)
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

func baseURL(addr string) string {
	for i := 0; i+2 < len(addr); i++ {
		if addr[i:i+3] == "://" {
			return addr
		}
	}
	return "http://" + addr
}

// snapshotError maps the snapshot package's refusals to the wire.
func snapshotError(err error) error {
	for _, m := range []struct {
		sentinel error
		status   int
		code     string
	}{
		{snapshot.ErrChecksum, http.StatusUnprocessableEntity, CodeSnapshotChecksum},
		{snapshot.ErrSeal, http.StatusUnprocessableEntity, CodeSnapshotSeal},
		{snapshot.ErrVersion, http.StatusUnprocessableEntity, CodeSnapshotVersion},
		{snapshot.ErrTooLarge, http.StatusRequestEntityTooLarge, CodeSnapshotTooLarge},
		{snapshot.ErrCorrupt, http.StatusUnprocessableEntity, CodeSnapshotCorrupt},
		{node.ErrBadSnapshot, http.StatusUnprocessableEntity, CodeSnapshotCorrupt},
	} {
		if errors.Is(err, m.sentinel) {
			return &apiError{m.status, m.code, err.Error()}
		}
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &apiError{http.StatusRequestEntityTooLarge, CodeSnapshotTooLarge,
			fmt.Sprintf("the upload exceeds the server's restore limit of %d bytes", mbe.Limit)}
	}
	if errors.Is(err, node.ErrUnknownType) {
		return &apiError{http.StatusUnprocessableEntity, CodeSnapshotCorrupt, err.Error()}
	}
	return err
}
