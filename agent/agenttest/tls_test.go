package agenttest_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/concord-db/concord/agent"
	"github.com/concord-db/concord/agent/agenttest"
	"github.com/concord-db/concord/internal/tlsconfig"
	"github.com/concord-db/concord/internal/tlsconfig/tlstest"
	"github.com/concord-db/concord/node"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestTLSClusterPutGetWatchThroughFollowers runs three members with TLS and
// client certificate authentication on both ports and uses them through
// followers only.
func TestTLSClusterPutGetWatchThroughFollowers(t *testing.T) {
	c := agenttest.Start(t, 3, agenttest.Options{TLS: true})
	l := c.Leader()
	var fs []int
	for i := range c.Size() {
		if i != l {
			fs = append(fs, i)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	watcher := c.Client(fs[1])
	wch := watcher.Watch(ctx, "k")
	// The watch is registered once a progress request returns through it.
	if err := watcher.RequestProgress(ctx); err != nil {
		t.Fatal(err)
	}
	<-wch

	if _, err := c.Client(fs[0]).Put(ctx, "k", "v1"); err != nil {
		t.Fatalf("put through follower %d: %v", fs[0], err)
	}
	got, err := c.Client(fs[1]).Get(ctx, "k")
	if err != nil || len(got.Kvs) != 1 || string(got.Kvs[0].Value) != "v1" {
		t.Fatalf("get through follower %d: %v %v", fs[1], got, err)
	}
	select {
	case wr := <-wch:
		if err := wr.Err(); err != nil || len(wr.Events) != 1 || string(wr.Events[0].Kv.Value) != "v1" {
			t.Fatalf("watch event: %+v %v", wr.Events, err)
		}
	case <-ctx.Done():
		t.Fatal("no watch event")
	}

	// A client without a certificate is refused.
	nocert, err := tlsconfig.Config{TrustedCAFile: c.TLS.CA.CertFile}.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{c.Endpoint(fs[0])}, TLS: nocert, DialTimeout: 3 * time.Second})
	if err == nil {
		defer cli.Close()
		sctx, scancel := context.WithTimeout(ctx, 3*time.Second)
		defer scancel()
		if _, err := cli.Get(sctx, "k"); err == nil {
			t.Fatal("a client without a certificate read through the TLS port")
		}
	}
}

// TestTLSForeignPeerCannotJoinOrSendRaftTraffic starts a fourth member
// whose peer certificate is signed by another CA: it cannot join, and its
// raft connections to the members are cut; the membership does not change.
func TestTLSForeignPeerCannotJoinOrSendRaftTraffic(t *testing.T) {
	c := agenttest.Start(t, 3, agenttest.Options{TLS: true})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	before, err := c.Client().MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}

	other := tlstest.NewCA(t, t.TempDir(), "foreign-ca")
	peer := other.Local(t, "peer", "intruder")
	server := other.Local(t, "server", "intruder")
	foreign := tlsconfig.Config{CertFile: peer.CertFile, KeyFile: peer.KeyFile, TrustedCAFile: c.TLS.CA.CertFile, ClientCertAuth: true}
	cfg := agent.Config{ClientAddr: "127.0.0.1:0",
		ClientTLS: tlsconfig.Config{CertFile: server.CertFile, KeyFile: server.KeyFile},
		PeerTLS:   foreign}
	cfg.Node = node.DefaultConfig()
	cfg.Node.ID, cfg.Node.DataDir, cfg.Node.PeerAddr = "intruder", t.TempDir(), "127.0.0.1:0"
	cfg.Node.Join = []string{c.Agent(c.Leader()).Node.AdvertisePeerAddr()}
	cfg.Node.HeartbeatTimeout, cfg.Node.ElectionTimeout = 300*time.Millisecond, 300*time.Millisecond
	if a, err := agent.Start(cfg); err == nil {
		// Start may return before joining; it must never become ready.
		defer a.Crash()
		select {
		case <-a.Node.Ready():
			t.Fatal("a member with a foreign certificate joined")
		case <-time.After(3 * time.Second):
		}
	}

	// Raw raft traffic over a foreign certificate is cut by every member.
	nw, err := node.NewTLSNetwork(foreign)
	if err != nil {
		t.Fatal(err)
	}
	nw.Client.VerifyConnection = nil // the intruder would not check the members
	for i := range c.Size() {
		addr := c.Agent(i).Node.PeerAddr()
		conn, err := nw.Dial(ctx, addr)
		if err != nil {
			continue
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		conn.Write([]byte("R\x00\x00\x00\x00\x00\x00\x00\x00"))
		if _, err := io.ReadAll(conn); err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("member %d: raft stream over a foreign certificate read %v, want a certificate error", i, err)
		}
		conn.Close()
	}

	after, err := c.Client().MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(after.Members) != len(before.Members) || len(after.Members) != 3 {
		t.Fatalf("members before %d, after %d", len(before.Members), len(after.Members))
	}
	if _, err := c.Client().Put(ctx, "still", "works"); err != nil {
		t.Fatal(err)
	}
}

// TestTLSPeerRotation replaces a member's peer certificate on disk: new
// peer connections get the new certificate, and the cluster keeps working.
func TestTLSPeerRotation(t *testing.T) {
	c := agenttest.Start(t, 3, agenttest.Options{TLS: true})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f := c.TLS
	nw, err := node.NewTLSNetwork(tlsconfig.Config{CertFile: f.Client.CertFile, KeyFile: f.Client.KeyFile, TrustedCAFile: f.CA.CertFile})
	if err != nil {
		t.Fatal(err)
	}
	served := func() string {
		conn, err := nw.Dial(ctx, c.Agent(0).Node.PeerAddr())
		if err != nil {
			t.Fatalf("dial peer port: %v", err)
		}
		defer conn.Close()
		return conn.(interface{ ConnectionState() tls.ConnectionState }).ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	before := served()
	f.CA.Local(t, "peer-next", "concord-peer").CopyTo(t, f.Peer)
	c.WaitFor(15*time.Second, "the new peer certificate served", func() bool { return served() != before })
	// Members reconnect with the new certificates and still commit.
	for i := range c.Size() {
		if _, err := c.Client(i).Put(ctx, "after-rotation", "ok"); err != nil {
			t.Fatalf("put through member %d: %v", i, err)
		}
	}
}

// TestTLSRestoreThroughFollower posts a snapshot archive to a follower of a
// TLS cluster with client certificate authentication: the follower
// forwards it to the leader's TLS client port with its own certificate.
func TestTLSRestoreThroughFollower(t *testing.T) {
	c := agenttest.Start(t, 3, agenttest.Options{TLS: true})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := c.Client().Put(ctx, "restore/k", "before"); err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: c.ClientTLS()}}
	l := c.Leader()
	resp, err := hc.Get("https://" + c.Endpoint(l) + "/v1/snapshot")
	if err != nil {
		t.Fatal(err)
	}
	archive, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/snapshot: %d %v", resp.StatusCode, err)
	}
	if _, err := c.Client().Put(ctx, "restore/k", "after"); err != nil {
		t.Fatal(err)
	}
	follower := (l + 1) % c.Size()
	resp, err = hc.Post("https://"+c.Endpoint(follower)+"/v1/snapshot/restore", "application/gzip", bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("restore through follower %d: %d %s", follower, resp.StatusCode, body)
	}
	got, err := c.Client(follower).Get(ctx, "restore/k")
	if err != nil || len(got.Kvs) != 1 || string(got.Kvs[0].Value) != "before" {
		t.Fatalf("after the restore: %v %v, want before", got, err)
	}
}
