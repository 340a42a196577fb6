package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/concord-db/concord/agent"
	"github.com/concord-db/concord/agent/agenttest"
	"github.com/concord-db/concord/server"
	"github.com/concord-db/concord/snapshot"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// snapCLI runs concord with args and returns the exit code and output.
func snapCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := execute(args, &out, &errb)
	return code, out.String(), errb.String()
}

func mustSnapCLI(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errs := snapCLI(t, args...)
	if code != 0 {
		t.Fatalf("concord %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

func tctx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// fillHistory writes keys with overwrites, deletes, a lease and a
// compaction, so that the state has history worth comparing. It returns the
// revisions worth reading the history at.
func fillHistory(t *testing.T, cli *clientv3.Client) []int64 {
	t.Helper()
	ctx := tctx(t, time.Minute)
	var revs []int64
	put := func(k, v string, opts ...clientv3.OpOption) {
		r, err := cli.Put(ctx, k, v, opts...)
		if err != nil {
			t.Fatalf("put %s: %v", k, err)
		}
		revs = append(revs, r.Header.Revision)
	}
	for i := range 40 {
		put(fmt.Sprintf("k/%03d", i), fmt.Sprintf("v%d", i))
	}
	if _, err := cli.Compact(ctx, revs[9]); err != nil {
		t.Fatalf("compact: %v", err)
	}
	for i := range 20 {
		put(fmt.Sprintf("k/%03d", i*2), fmt.Sprintf("v%d-again", i))
	}
	for i := range 5 {
		r, err := cli.Delete(ctx, fmt.Sprintf("k/%03d", 30+i))
		if err != nil {
			t.Fatalf("delete: %v", err)
		}
		revs = append(revs, r.Header.Revision)
	}
	lease, err := cli.Grant(ctx, 3600)
	if err != nil {
		t.Fatalf("grant: %v", err)
	}
	put("leased/a", "x", clientv3.WithLease(lease.ID))
	put("bin/\x00\xff", "\x01\x02")
	return revs
}

// kvDump is everything a range of the whole keyspace at rev returns.
func kvDump(t *testing.T, cli *clientv3.Client, rev int64) (int64, []*mvccpb.KeyValue) {
	t.Helper()
	opts := []clientv3.OpOption{clientv3.WithFromKey()}
	if rev > 0 {
		opts = append(opts, clientv3.WithRev(rev))
	}
	r, err := cli.Get(tctx(t, 30*time.Second), "\x00", opts...)
	if err != nil {
		t.Fatalf("get all at %d: %v", rev, err)
	}
	return r.Header.Revision, r.Kvs
}

func sameKVs(a, b []*mvccpb.KeyValue) string {
	if len(a) != len(b) {
		return fmt.Sprintf("%d keys vs %d keys", len(a), len(b))
	}
	for i := range a {
		x, y := a[i], b[i]
		if string(x.Key) != string(y.Key) || string(x.Value) != string(y.Value) || x.CreateRevision != y.CreateRevision ||
			x.ModRevision != y.ModRevision || x.Version != y.Version || x.Lease != y.Lease {
			return fmt.Sprintf("key %d differs: %v vs %v", i, x, y)
		}
	}
	return ""
}

// hashKV returns every running member's HashKV at rev (0: current) and
// fails unless they agree.
func hashKV(t *testing.T, c *agenttest.Cluster, rev int64) (uint32, int64) {
	t.Helper()
	var hash uint32
	var hrev int64
	for i, ep := range c.Endpoints() {
		cli := c.Client(i)
		// A follower may not have applied rev yet: wait until it has.
		var r *clientv3.HashKVResponse
		var err error
		c.WaitFor(30*time.Second, "HashKV of "+ep+" at a revision it has reached", func() bool {
			r, err = cli.HashKV(tctx(t, 30*time.Second), ep, rev)
			return !errors.Is(err, rpctypes.ErrFutureRev)
		})
		if err != nil {
			t.Fatalf("HashKV of %s: %v", ep, err)
		}
		if i > 0 && (r.Hash != hash || r.Header.Revision != hrev) {
			t.Fatalf("HashKV of %s: %d at %d, member 0 has %d at %d", ep, r.Hash, r.Header.Revision, hash, hrev)
		}
		hash, hrev = r.Hash, r.Header.Revision
	}
	return hash, hrev
}

// waitSameHash waits until every member reports the same HashKV and rev.
func waitSameHash(t *testing.T, c *agenttest.Cluster, rev int64) {
	t.Helper()
	c.WaitFor(30*time.Second, "members to agree on HashKV", func() bool {
		var first uint32
		for i, ep := range c.Endpoints() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			r, err := c.Client(i).HashKV(ctx, ep, rev)
			cancel()
			if err != nil || r.Header.Revision != rev {
				return false
			}
			if i == 0 {
				first = r.Hash
			} else if r.Hash != first {
				return false
			}
		}
		return true
	})
}

// TestSnapshotRoundTrip saves a three-member cluster's state through the CLI
// (from a follower) and through etcd's Maintenance.Snapshot, and restores it
// into new clusters of one and five members: every key, value and revision,
// the history at old revisions, the compaction and the lease match.
func TestSnapshotRoundTrip(t *testing.T) {
	src := agenttest.Start(t, 3, agenttest.Options{})
	cli := src.Client()
	revs := fillHistory(t, cli)
	dir := t.TempDir()
	file := filepath.Join(dir, "backup.snap")
	out := mustSnapCLI(t, "snapshot", "save", file, "--endpoints", src.Endpoint(src.Follower()))
	if !strings.Contains(out, "saved "+file) || !strings.Contains(out, "sha-256=") {
		t.Fatalf("save printed %q", out)
	}
	srcRev, srcKVs := kvDump(t, cli, 0)
	srcHash, _ := hashKV(t, src, srcRev)

	// etcd's Maintenance.Snapshot (etcdctl snapshot save) serves the same archive.
	rc, err := cli.Snapshot(tctx(t, time.Minute))
	if err != nil {
		t.Fatalf("Maintenance.Snapshot: %v", err)
	}
	etcdFile := filepath.Join(dir, "etcdctl.snap")
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read Maintenance.Snapshot: %v", err)
	}
	if err := os.WriteFile(etcdFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if out := mustSnapCLI(t, "snapshot", "verify", etcdFile); !strings.Contains(out, "OK") {
		t.Fatalf("verify of the etcd snapshot: %q", out)
	}

	out = mustSnapCLI(t, "snapshot", "inspect", file, "-o", "json")
	var ins struct {
		Meta     snapshot.Meta
		Sections []sectionStats
	}
	if err := json.Unmarshal([]byte(out), &ins); err != nil {
		t.Fatalf("inspect -o json: %v\n%s", err, out)
	}
	// The archive carries a section per state machine: the key-value
	// store (with the test's keys), the faces' and auth's.
	byName := map[string]sectionStats{}
	for _, s := range ins.Sections {
		byName[s.Name] = s
	}
	if len(ins.Meta.Members) != 3 || byName["kv"].Entries < 60 {
		t.Fatalf("inspect: %s", out)
	}
	for _, name := range []string{"sql", "resource", "auth"} {
		if _, ok := byName[name]; !ok {
			t.Fatalf("inspect: no %s section: %s", name, out)
		}
	}
	if out := mustSnapCLI(t, "snapshot", "inspect", file); !strings.Contains(out, "SECTION") || !strings.Contains(out, "key versions") {
		t.Fatalf("inspect table: %s", out)
	}

	for _, size := range []int{1, 5} {
		t.Run(fmt.Sprintf("into %d members", size), func(t *testing.T) {
			dst := agenttest.Start(t, size, agenttest.Options{})
			dcli := dst.Client()
			if _, err := dcli.Put(tctx(t, 10*time.Second), "k/000", "to be replaced"); err != nil {
				t.Fatal(err)
			}
			target := dst.Endpoint(0)
			if size > 1 {
				target = dst.Endpoint(dst.Follower()) // forwarded to the leader
			}
			source := file
			if size == 5 {
				source = etcdFile
			}
			out := mustSnapCLI(t, "snapshot", "restore", source, "--yes", "--endpoints", target)
			if !strings.Contains(out, "restored "+source) {
				t.Fatalf("restore printed %q", out)
			}
			waitSameHash(t, dst, srcRev)
			for i := range size {
				rev, kvs := kvDump(t, dst.Client(i), 0)
				if rev != srcRev {
					t.Fatalf("member %d: revision %d, want %d", i, rev, srcRev)
				}
				if d := sameKVs(srcKVs, kvs); d != "" {
					t.Fatalf("member %d: %s", i, d)
				}
			}
			for _, rev := range revs[10:] {
				_, want := kvDump(t, cli, rev)
				_, got := kvDump(t, dcli, rev)
				if d := sameKVs(want, got); d != "" {
					t.Fatalf("history at %d: %s", rev, d)
				}
			}
			if _, err := dcli.Get(tctx(t, 10*time.Second), "k/000", clientv3.WithRev(revs[5])); err == nil {
				t.Fatalf("read below the compaction succeeded after restore")
			}
			if h, _ := hashKV(t, dst, srcRev); h != srcHash {
				t.Fatalf("HashKV %d after restore, source had %d", h, srcHash)
			}
			leases, err := dcli.Leases(tctx(t, 10*time.Second))
			if err != nil || len(leases.Leases) != 1 {
				t.Fatalf("leases after restore: %v %v", leases, err)
			}
			// The cluster keeps working on top of the restored state, and its
			// members stay reachable (their client addresses were kept).
			r, err := dcli.Put(tctx(t, 10*time.Second), "after", "restore")
			if err != nil || r.Header.Revision != srcRev+1 {
				t.Fatalf("put after restore: %v %v", r, err)
			}
			st := mustSnapCLI(t, "status", "--endpoints", dst.Endpoint(0), "-o", "json")
			var status server.StatusResponse
			if err := json.Unmarshal([]byte(st), &status); err != nil {
				t.Fatal(err)
			}
			for _, m := range status.Members {
				if want := dst.Endpoint(int(m.ID[1] - '0')); m.ClientAddr != want {
					t.Fatalf("member %s client address %q after restore, want %q", m.ID, m.ClientAddr, want)
				}
			}
		})
	}
}

// archiveMembers reads an archive's members in order.
func archiveMembers(t *testing.T, b []byte) ([]*tar.Header, [][]byte) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var hdrs []*tar.Header
	var bodies [][]byte
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return hdrs, bodies
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		hdrs, bodies = append(hdrs, h), append(bodies, body)
	}
}

// packArchive writes members as a tar.gz.
func packArchive(t *testing.T, hdrs []*tar.Header, bodies [][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for i, h := range hdrs {
		h := *h
		h.Size = int64(len(bodies[i]))
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			tw.Write(bodies[i])
		}
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

// badArchives returns one damaged variant of good per class of refusal.
func badArchives(t *testing.T, good []byte, wrongKey string) map[string][]byte {
	hdrs, bodies := archiveMembers(t, good)
	clone := func() ([]*tar.Header, [][]byte) {
		h := make([]*tar.Header, len(hdrs))
		b := make([][]byte, len(bodies))
		for i := range hdrs {
			c := *hdrs[i]
			h[i], b[i] = &c, bytes.Clone(bodies[i])
		}
		return h, b
	}
	out := map[string][]byte{}
	out["truncated"] = good[:len(good)*2/3]
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0x10
	out["flipped bit in the gzip stream"] = flipped
	h, b := clone()
	b[1][len(b[1])/2] ^= 0x01
	out["flipped bit in state.bin"] = packArchive(t, h, b)
	h, b = clone()
	b[0] = bytes.Replace(b[0], []byte(`"term"`), []byte(`"tErm"`), 1)
	out["edited meta.json"] = packArchive(t, h, b)
	h, b = clone()
	out["wrong order"] = packArchive(t, []*tar.Header{h[1], h[0], h[2]}, [][]byte{b[1], b[0], b[2]})
	out["missing SHA256SUMS"] = packArchive(t, h[:2], b[:2])
	extra := *h[2]
	extra.Name = "notes.txt"
	out["extra member"] = packArchive(t, append(h[:3:3], &extra), append(b[:3:3], []byte("hi\n")))
	h, b = clone()
	h[2].Name = "../SHA256SUMS"
	out["path traversal"] = packArchive(t, h, b)
	h, b = clone()
	link := &tar.Header{Name: "SHA256SUMS", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd", Mode: 0o777}
	out["symlink member"] = packArchive(t, []*tar.Header{h[0], h[1], link}, [][]byte{b[0], b[1], nil})
	h, b = clone()
	b[0] = append(b[0], bytes.Repeat([]byte(" "), 2<<20)...)
	out["oversized meta.json"] = packArchive(t, h, b)
	h, b = clone()
	var meta map[string]any
	json.Unmarshal(b[0], &meta)
	meta["version"] = snapshot.FormatVersion + 1
	b[0], _ = json.Marshal(meta)
	out["newer format version"] = packArchive(t, h, b)
	h, b = clone()
	bomb := bytes.Clone(b[1])
	bomb = append(bomb, make([]byte, 64<<20)...)
	json.Unmarshal(b[0], &meta)
	out["gzip bomb (state.bin larger than declared)"] = packArchive(t, h, [][]byte{b[0], bomb, b[2]})
	_ = wrongKey
	return out
}

// TestSnapshotRestoreRefusesBadArchives sends every class of bad archive to
// the restore endpoint directly (bypassing the CLI's own check) and through
// the CLI: each is refused with its error code and a non-zero exit, and the
// running state is untouched.
func TestSnapshotRestoreRefusesBadArchives(t *testing.T) {
	c := agenttest.Start(t, 3, agenttest.Options{})
	cli := c.Client()
	fillHistory(t, cli)
	dir := t.TempDir()
	file := filepath.Join(dir, "good.snap")
	mustSnapCLI(t, "snapshot", "save", file, "--endpoints", c.Endpoint(0))
	keyA, keyB := filepath.Join(dir, "a.key"), filepath.Join(dir, "b.key")
	for _, k := range []string{keyA, keyB} {
		if err := snapshot.WriteKeyFile(k); err != nil {
			t.Fatal(err)
		}
	}
	sealed := filepath.Join(dir, "sealed.snap")
	mustSnapCLI(t, "snapshot", "save", sealed, "--seal-key", keyA, "--endpoints", c.Endpoint(1))
	mustSnapCLI(t, "snapshot", "verify", sealed, "--seal-key", keyA)
	backupRev, _ := kvDump(t, cli, 0)
	if _, err := cli.Put(tctx(t, 10*time.Second), "after-backup", "x"); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	rev0, kvs0 := kvDump(t, cli, 0)
	hash0, _ := hashKV(t, c, rev0)

	wantCode := map[string]string{
		"truncated": server.CodeSnapshotCorrupt, "flipped bit in the gzip stream": "", "flipped bit in state.bin": server.CodeSnapshotChecksum,
		"edited meta.json": server.CodeSnapshotChecksum, "wrong order": server.CodeSnapshotCorrupt,
		"missing SHA256SUMS": server.CodeSnapshotCorrupt, "extra member": server.CodeSnapshotCorrupt,
		"path traversal": server.CodeSnapshotCorrupt, "symlink member": server.CodeSnapshotCorrupt,
		"oversized meta.json": server.CodeSnapshotTooLarge, "newer format version": server.CodeSnapshotVersion,
		"gzip bomb (state.bin larger than declared)": "",
	}
	for name, b := range badArchives(t, good, keyB) {
		t.Run(name, func(t *testing.T) {
			for i := range c.Size() { // the leader and, forwarded, the followers
				resp, err := http.Post("http://"+c.Endpoint(i)+"/v1/snapshot/restore", "application/gzip", bytes.NewReader(b))
				if err != nil {
					t.Fatal(err)
				}
				var eb server.ErrorBody
				json.NewDecoder(resp.Body).Decode(&eb)
				resp.Body.Close()
				if resp.StatusCode/100 != 4 || !strings.HasPrefix(eb.Code, "snapshot_") || (wantCode[name] != "" && eb.Code != wantCode[name]) {
					t.Fatalf("member %d: HTTP %d %+v, want 4xx %q", i, resp.StatusCode, eb, wantCode[name])
				}
			}
			f := filepath.Join(t.TempDir(), "bad.snap")
			os.WriteFile(f, b, 0o600)
			for _, args := range [][]string{{"verify", f}, {"restore", f, "--yes", "--endpoints", c.Endpoint(0)}} {
				code, _, errs := snapCLI(t, append([]string{"snapshot"}, args...)...)
				if code == 0 || !strings.Contains(errs, f) {
					t.Fatalf("snapshot %s: exit %d, stderr %q", args[0], code, errs)
				}
			}
		})
	}
	t.Run("sealed archive", func(t *testing.T) {
		for _, args := range [][]string{
			{"restore", sealed, "--yes", "--endpoints", c.Endpoint(0)},                     // no key
			{"restore", sealed, "--yes", "--seal-key", keyB, "--endpoints", c.Endpoint(0)}, // wrong key
			{"restore", sealed, "--yes", "--seal-key", keyA, "--sealer", "aes-gcm", "--endpoints", c.Endpoint(0)},
			{"verify", sealed, "--seal-key", keyB},
			{"restore", file, "--yes", "--seal-key", keyA, "--endpoints", c.Endpoint(0)}, // unsealed with a key
		} {
			code, _, errs := snapCLI(t, append([]string{"snapshot"}, args...)...)
			if code != exitFailure || !strings.Contains(errs, "seal") {
				t.Fatalf("snapshot %v: exit %d, stderr %q", args, code, errs)
			}
		}
	})
	t.Run("no --yes without a terminal", func(t *testing.T) {
		code, _, errs := snapCLI(t, "snapshot", "restore", file, "--endpoints", c.Endpoint(0))
		if code != exitUsage || !strings.Contains(errs, "--yes") {
			t.Fatalf("exit %d, stderr %q", code, errs)
		}
	})
	t.Run("upload over the limit", func(t *testing.T) {
		small := agenttest.Start(t, 1, agenttest.Options{Configure: func(_ int, cfg *agent.Config) {
			cfg.Snapshot.MaxRestoreBytes = int64(len(good) / 2)
		}})
		code, _, errs := snapCLI(t, "snapshot", "restore", file, "--yes", "--endpoints", small.Endpoint(0))
		if code != exitFailure || !strings.Contains(errs, server.CodeSnapshotTooLarge) {
			t.Fatalf("exit %d, stderr %q", code, errs)
		}
	})

	rev1, kvs1 := kvDump(t, cli, 0)
	hash1, _ := hashKV(t, c, rev1)
	if rev1 != rev0 || hash1 != hash0 || sameKVs(kvs0, kvs1) != "" {
		t.Fatalf("state changed by refused restores: rev %d->%d hash %d->%d %s", rev0, rev1, hash0, hash1, sameKVs(kvs0, kvs1))
	}
	// The good archive still restores afterwards.
	mustSnapCLI(t, "snapshot", "restore", sealed, "--yes", "--seal-key", keyA, "--endpoints", c.Endpoint(2))
	waitSameHash(t, c, backupRev)
	if r, err := cli.Get(tctx(t, 10*time.Second), "after-backup"); err != nil || r.Count != 0 {
		t.Fatalf("after the restore of the backup: %v %v", r, err)
	}
}
