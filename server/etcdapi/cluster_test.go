package etcdapi_test

import (
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/concord-db/concord/agent/agenttest"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func testMaintenance(t *testing.T, c *agenttest.Cluster) {
	cli := c.Client()
	ids := memberIDs(t, cli)

	t.Run("status", func(t *testing.T) {
		l := c.Leader()
		var leaders []uint64
		for i := range c.Size() {
			st, err := cli.Status(testCtx(t, 20*time.Second), c.Endpoint(i))
			if err != nil {
				t.Fatal(err)
			}
			if st.Header.MemberId != ids[memberName(i)] {
				t.Errorf("member %d: status answered by %x, want %x", i, st.Header.MemberId, ids[memberName(i)])
			}
			if st.RaftIndex == 0 || st.RaftTerm == 0 || st.RaftAppliedIndex == 0 || st.Version == "" || st.IsLearner {
				t.Errorf("member %d: status %+v", i, st)
			}
			leaders = append(leaders, st.Leader)
		}
		for i, id := range leaders {
			if id != ids[memberName(l)] {
				t.Errorf("member %d says the leader is %x, want %x (member %d)", i, id, ids[memberName(l)], l)
			}
		}
	})

	t.Run("hash kv equal on every member", func(t *testing.T) {
		rev := mustPut(t, cli, "maint/hash", "v").Header.Revision
		hashes := map[uint32][]int{}
		for i := range c.Size() {
			var resp *clientv3.HashKVResponse
			waitUntil(t, 10*time.Second, fmt.Sprintf("member %d to reach revision %d", i, rev), func() bool {
				var err error
				resp, err = cli.HashKV(testCtx(t, 20*time.Second), c.Endpoint(i), rev)
				if err != nil && err != rpctypes.ErrFutureRev {
					t.Fatalf("member %d hash kv: %v", i, err)
				}
				return err == nil
			})
			if resp.HashRevision != rev || resp.Header.MemberId != ids[memberName(i)] {
				t.Errorf("member %d: hash revision %d (want %d) from %x", i, resp.HashRevision, rev, resp.Header.MemberId)
			}
			hashes[resp.Hash] = append(hashes[resp.Hash], i)
		}
		if len(hashes) != 1 {
			t.Errorf("hashes differ at revision %d: %v", rev, hashes)
		}
		// The hash covers history: a later revision hashes differently.
		next := mustPut(t, cli, "maint/hash", "w").Header.Revision
		h2, err := c.Client(c.Leader()).HashKV(testCtx(t, 20*time.Second), c.Endpoint(c.Leader()), next)
		if err != nil {
			t.Fatal(err)
		}
		if _, same := hashes[h2.Hash]; same {
			t.Errorf("hash unchanged by a write")
		}
		_, err = cli.HashKV(testCtx(t, 20*time.Second), c.Endpoint(0), next+1000)
		wantErr(t, err, rpctypes.ErrFutureRev)
	})

	t.Run("alarm list empty", func(t *testing.T) {
		resp, err := cli.AlarmList(testCtx(t, 20*time.Second))
		if err != nil || len(resp.Alarms) != 0 {
			t.Errorf("alarms: %v %+v", err, resp)
		}
	})

	t.Run("defragment", func(t *testing.T) {
		for i := range c.Size() {
			if _, err := cli.Defragment(testCtx(t, 20*time.Second), c.Endpoint(i)); err != nil {
				t.Errorf("member %d: %v", i, err)
			}
		}
	})

	t.Run("snapshot", func(t *testing.T) {
		rc, err := cli.Snapshot(testCtx(t, 30*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		n, err := io.Copy(io.Discard, rc)
		if err != nil || n == 0 {
			t.Errorf("snapshot: %d bytes, %v", n, err)
		}
	})

	t.Run("move leader", func(t *testing.T) {
		l := c.Leader()
		to := (l + 1) % c.Size()
		// Sent to a follower, MoveLeader is refused as etcd does.
		_, err := c.Client(to).MoveLeader(testCtx(t, 20*time.Second), ids[memberName(to)])
		wantErr(t, err, rpctypes.ErrNotLeader)
		moveLeader(t, c, to)
		st, err := cli.Status(testCtx(t, 20*time.Second), c.Endpoint(l))
		if err != nil {
			t.Fatal(err)
		}
		waitUntil(t, 10*time.Second, "every member to see the new leader", func() bool {
			for i := range c.Size() {
				st, err = cli.Status(testCtx(t, 20*time.Second), c.Endpoint(i))
				if err != nil || st.Leader != ids[memberName(to)] {
					return false
				}
			}
			return true
		})
		// Writes go on under the new leader.
		mustPut(t, cli, "maint/after-move", "v")
		_, err = c.Client(to).MoveLeader(testCtx(t, 20*time.Second), 0x1234)
		if err == nil {
			t.Errorf("move leader to an unknown member succeeded")
		}
	})
}

func testCluster(t *testing.T, c *agenttest.Cluster) {
	cli := c.Client()
	ctx := testCtx(t, time.Minute)

	t.Run("member list", func(t *testing.T) {
		for i := range c.Size() {
			ml, err := c.Client(i).MemberList(testCtx(t, 20*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			if len(ml.Members) != 3 {
				t.Fatalf("member %d lists %d members", i, len(ml.Members))
			}
			// etcd's Cluster API sets no revision: membership is not
			// part of the key-value history.
			if ml.Header.Revision != 0 || ml.Header.ClusterId == 0 || ml.Header.MemberId == 0 {
				t.Errorf("member %d: MemberList header %+v, want cluster and member id and no revision", i, ml.Header)
			}
			seen := map[string]bool{}
			for _, m := range ml.Members {
				seen[m.Name] = true
				j := -1
				fmt.Sscanf(m.Name, "m%d", &j)
				if j < 0 || j >= c.Size() {
					t.Errorf("member name %q", m.Name)
					continue
				}
				if m.ID == 0 || m.IsLearner {
					t.Errorf("member %+v", m)
				}
				if len(m.ClientURLs) != 1 || m.ClientURLs[0] != "http://"+c.Endpoint(j) {
					t.Errorf("member %s client URLs %q, want http://%s", m.Name, m.ClientURLs, c.Endpoint(j))
				}
				if len(m.PeerURLs) != 1 || m.PeerURLs[0] != "http://"+c.Agent(j).Node.AdvertisePeerAddr() {
					t.Errorf("member %s peer URLs %q, want http://%s", m.Name, m.PeerURLs, c.Agent(j).Node.AdvertisePeerAddr())
				}
			}
			if len(seen) != 3 {
				t.Errorf("names %v", seen)
			}
		}
		// A serializable member list is served locally.
		if ml, err := cli.MemberList(ctx, clientv3.WithSerializable()); err != nil || len(ml.Members) != 3 {
			t.Errorf("serializable member list: %v", err)
		}
	})

	t.Run("add learner, list, remove", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0") // an address no member has
		if err != nil {
			t.Fatal(err)
		}
		peerURL := "http://" + ln.Addr().String()
		ln.Close()
		add, err := cli.MemberAddAsLearner(ctx, []string{peerURL})
		if err != nil {
			t.Fatal(err)
		}
		if add.Member == nil || add.Member.ID == 0 || !add.Member.IsLearner || len(add.Member.PeerURLs) != 1 || add.Member.PeerURLs[0] != peerURL {
			t.Fatalf("added member %+v", add.Member)
		}
		if len(add.Members) != 4 {
			t.Errorf("add response lists %d members", len(add.Members))
		}
		var found *pb.Member
		for i := range c.Size() {
			ml, err := c.Client(i).MemberList(ctx)
			if err != nil {
				t.Fatal(err)
			}
			found = nil
			for _, m := range ml.Members {
				if m.ID == add.Member.ID {
					found = m
				}
			}
			if len(ml.Members) != 4 || found == nil || !found.IsLearner || found.Name != "" {
				t.Errorf("member %d lists %+v (found %+v)", i, ml.Members, found)
			}
		}
		// The same peer URL cannot be added twice.
		_, err = cli.MemberAddAsLearner(ctx, []string{peerURL})
		wantErr(t, err, rpctypes.ErrPeerURLExist)
		// The cluster still commits: a learner is not in the quorum.
		mustPut(t, cli, "cluster/with-learner", "v")

		if _, err := cli.MemberRemove(ctx, add.Member.ID); err != nil {
			t.Fatal(err)
		}
		ml, err := cli.MemberList(ctx)
		if err != nil || len(ml.Members) != 3 {
			t.Fatalf("after remove: %v %+v", err, ml)
		}
		_, err = cli.MemberRemove(ctx, add.Member.ID)
		wantErr(t, err, rpctypes.ErrMemberNotFound)
	})

	t.Run("promote a voter", func(t *testing.T) {
		_, err := cli.MemberPromote(ctx, memberIDs(t, cli)[memberName(0)])
		wantErr(t, err, rpctypes.ErrMemberNotLearner)
	})

	t.Run("remove a voter", func(t *testing.T) {
		// Last: it leaves the shared cluster with two members.
		f := c.Follower()
		id := memberIDs(t, cli)[memberName(f)]
		var others []int
		for i := range c.Size() {
			if i != f {
				others = append(others, i)
			}
		}
		ocli := c.Client(others...)
		resp, err := ocli.MemberRemove(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Members) != 2 {
			t.Errorf("remove response lists %d members", len(resp.Members))
		}
		for _, m := range resp.Members {
			if m.ID == id {
				t.Errorf("removed member still listed")
			}
		}
		mustPut(t, ocli, "cluster/after-remove", "v")
	})
}
