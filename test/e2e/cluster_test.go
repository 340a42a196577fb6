package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/concord-db/concord/server"
)

// Until the KV store is served, the replicated state a test can change and
// observe through the REST API is the cluster's membership: adding a member
// commits a raft configuration change and then a node command (the member's
// client address) that goes through the log, the command envelope and the
// FSM on every node. The tests add non-voters that never run ("observers"):
// they do not count for quorum, so the cluster stays available, and their
// client address shows up in GET /v1/members of every node only after the
// node applied that command.

func newAgents(t *testing.T, n int) []*agent {
	agents := make([]*agent, n)
	for i := range agents {
		agents[i] = newAgent(t, fmt.Sprintf("n%d", i+1))
	}
	return agents
}

// TestBootstrapJoin forms a cluster with --bootstrap on one node and --join
// on the two others.
func TestBootstrapJoin(t *testing.T) {
	t.Parallel()
	agents := newAgents(t, 3)
	agents[0].start(append(agents[0].nodeArgs(), "--bootstrap")...)
	waitReady(t, agents[0])
	join := agents[0].peerAddr
	for _, a := range agents[1:] {
		a.start(append(a.nodeArgs(), "--join", join)...)
	}
	exerciseCluster(t, agents, true)
}

// TestInitialCluster starts the three voters of a new cluster at once.
func TestInitialCluster(t *testing.T) {
	t.Parallel()
	agents := newAgents(t, 3)
	startInitialCluster(agents)
	exerciseCluster(t, agents, false)
}

func startInitialCluster(agents []*agent) {
	var peers []string
	for _, a := range agents {
		peers = append(peers, a.id+"="+a.peerAddr)
	}
	for _, a := range agents {
		a.start(append(a.nodeArgs(), "--initial-cluster", strings.Join(peers, ","))...)
	}
}

// exerciseCluster checks a freshly started three-node cluster: all ready,
// one leader, a change made through a follower visible everywhere; then the
// leader is killed with SIGKILL, the two others elect a new leader and take
// another change, and the killed node, restarted on its data dir with no
// cluster flags, catches up: one leader and all changes on all three.
func exerciseCluster(t *testing.T, agents []*agent, checkCLI bool) {
	waitReady(t, agents...)
	leader := waitOneLeader(t, agents...)
	waitVoters(t, agents, 3)

	follower := others(agents, leader)[0]
	addObserver(t, follower, "observer1")
	waitObservers(t, agents, "observer1")
	if checkCLI {
		checkStatusCLI(t, follower, "observer1")
	}

	t.Logf("killing leader %s", leader.id)
	leader.kill()
	survivors := others(agents, leader)
	newLeader := waitOneLeader(t, survivors...)
	if newLeader == leader {
		t.Fatalf("killed leader %s still leads", leader.id)
	}
	// A change while the old leader is down, again through a follower.
	addObserver(t, others(survivors, newLeader)[0], "observer2")
	waitObservers(t, survivors, "observer1", "observer2")

	t.Logf("restarting %s with no cluster flags", leader.id)
	leader.start(leader.nodeArgs()...)
	waitReady(t, agents...)
	waitOneLeader(t, agents...)
	waitVoters(t, agents, 3)
	waitObservers(t, agents, "observer1", "observer2")
}

func others(agents []*agent, not *agent) []*agent {
	var out []*agent
	for _, a := range agents {
		if a != not {
			out = append(out, a)
		}
	}
	return out
}

// observerClientAddr is the client address recorded for an observer.
func observerClientAddr(id string) string {
	return "client-of-" + id + ".invalid:2379"
}

// addObserver adds a non-voter that never runs, through via.
func addObserver(t *testing.T, via *agent, id string) {
	t.Helper()
	voter := false
	req := server.MemberAddRequest{ID: id, PeerAddr: freeAddr(t), ClientAddr: observerClientAddr(id), Voter: &voter}
	if _, err := via.call("POST", "/v1/members", req, nil); err != nil {
		t.Fatalf("add %s through %s: %v", id, via.id, err)
	}
}

// waitObservers waits until every agent lists each observer as a non-voter
// with its client address.
func waitObservers(t *testing.T, agents []*agent, ids ...string) {
	t.Helper()
	for _, a := range agents {
		waitFor(t, leaderTimeout, a.id+" lists "+strings.Join(ids, ", "), func() error {
			ms, err := a.members()
			if err != nil {
				return err
			}
			for _, id := range ids {
				m, ok := findMember(ms, id)
				switch {
				case !ok:
					return fmt.Errorf("%s not listed in %+v", id, ms)
				case m.Voter:
					return fmt.Errorf("%s is listed as a voter", id)
				case m.ClientAddr != observerClientAddr(id):
					return fmt.Errorf("%s has client address %q (not applied yet?)", id, m.ClientAddr)
				}
			}
			return nil
		})
	}
}

// waitVoters waits until every agent lists n voters, each with its client
// address.
func waitVoters(t *testing.T, agents []*agent, n int) {
	t.Helper()
	for _, a := range agents {
		waitFor(t, leaderTimeout, fmt.Sprintf("%s lists %d voters", a.id, n), func() error {
			ms, err := a.members()
			if err != nil {
				return err
			}
			voters := 0
			for _, m := range ms {
				if !m.Voter {
					continue
				}
				voters++
				if other := byID(agents, m.ID); other != nil && m.ClientAddr != other.clientAddr {
					return fmt.Errorf("voter %s has client address %q, want %q", m.ID, m.ClientAddr, other.clientAddr)
				}
			}
			if voters != n {
				return fmt.Errorf("%d voters in %+v", voters, ms)
			}
			return nil
		})
	}
}

func byID(agents []*agent, id string) *agent {
	for _, a := range agents {
		if a.id == id {
			return a
		}
	}
	return nil
}

func findMember(ms []server.MemberResponse, id string) (server.MemberResponse, bool) {
	for _, m := range ms {
		if m.ID == id {
			return m, true
		}
	}
	return server.MemberResponse{}, false
}

// checkStatusCLI runs concord status and concord members against a.
func checkStatusCLI(t *testing.T, a *agent, wantMember string) {
	t.Helper()
	out := runCLI(t, "status", "--endpoints", a.clientAddr)
	if !strings.Contains(out, "NODE") || !strings.Contains(out, a.id) || !strings.Contains(out, wantMember) {
		t.Fatalf("concord status table lacks the node or %s:\n%s", wantMember, out)
	}
	var st server.StatusResponse
	out = runCLI(t, "status", "--endpoints", "127.0.0.1:1,"+a.clientAddr, "-o", "json")
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.ID != a.id || st.LeaderID == "" {
		t.Fatalf("concord status -o json (first endpoint down): %v\n%s", err, out)
	}
	var ms server.MembersResponse
	out = runCLI(t, "members", "--endpoints", a.clientAddr, "-o", "json")
	if err := json.Unmarshal([]byte(out), &ms); err != nil {
		t.Fatalf("concord members -o json: %v\n%s", err, out)
	}
	if _, ok := findMember(ms.Members, wantMember); !ok {
		t.Fatalf("concord members -o json lacks %s:\n%s", wantMember, out)
	}
	if out := runCLI(t, "members", "--endpoints", a.clientAddr); !strings.Contains(out, "PEER ADDR") || !strings.Contains(out, wantMember) {
		t.Fatalf("concord members table lacks %s:\n%s", wantMember, out)
	}
}

// TestRemovedNodeRestart removes a stopped node from the cluster and
// restarts it on its old data: it must exit non-zero saying it was removed,
// and the cluster must not notice (same leader, same term).
func TestRemovedNodeRestart(t *testing.T) {
	t.Parallel()
	agents := newAgents(t, 3)
	startInitialCluster(agents)
	waitReady(t, agents...)
	waitOneLeader(t, agents...)
	victim, rest := agents[2], agents[:2]
	victim.stop()
	waitOneLeader(t, rest...)

	if _, err := rest[0].call("DELETE", "/v1/members/"+victim.id, nil, nil); err != nil {
		t.Fatalf("remove %s: %v", victim.id, err)
	}
	waitVoters(t, rest, 2)
	leader := waitOneLeader(t, rest...)
	before, err := leader.status()
	if err != nil {
		t.Fatal(err)
	}

	victim.start(victim.nodeArgs()...)
	if code := victim.waitExit(exitTimeout); code == 0 {
		t.Fatalf("removed node %s exited with code 0, want non-zero", victim.id)
	}
	if log := victim.log.String(); !strings.Contains(log, "removed from the cluster") {
		t.Fatalf("removed node %s did not say it was removed", victim.id)
	}

	if again := waitOneLeader(t, rest...); again != leader {
		t.Fatalf("leader changed from %s to %s while the removed node ran", leader.id, again.id)
	}
	after, err := leader.status()
	if err != nil {
		t.Fatal(err)
	}
	if after.Term != before.Term {
		t.Fatalf("term moved from %d to %d while the removed node ran", before.Term, after.Term)
	}
	waitReady(t, rest...)
}

// TestDevMode runs concord agent --dev in a fresh directory: it prints its
// addresses, becomes ready, and exits 0 on SIGTERM. Its data dir then
// refuses a different node id (exit 1), and bad flags exit 2.
func TestDevMode(t *testing.T) {
	t.Parallel()
	a := newAgent(t, "dev")
	a.start("agent", "--dev", "--client-addr", a.clientAddr, "--peer-addr", a.peerAddr)
	waitFor(t, readyTimeout, "the startup banner", func() error {
		out := a.stdout.String()
		for _, want := range []string{"client: http://" + a.clientAddr, "peer:   " + a.peerAddr, "data:   concord-data"} {
			if !strings.Contains(out, want) {
				return fmt.Errorf("stdout lacks %q:\n%s", want, out)
			}
		}
		return nil
	})
	waitReady(t, a)
	st, err := a.status()
	if err != nil || st.ID != "dev" || st.State != "Leader" {
		t.Fatalf("dev status %+v, %v", st, err)
	}
	start := time.Now()
	a.stop()
	t.Logf("dev agent stopped in %s", time.Since(start))

	a.start("agent", "--node-id", "other", "--data-dir", "concord-data", "--client-addr", a.clientAddr, "--peer-addr", a.peerAddr)
	if code := a.waitExit(exitTimeout); code != 1 {
		t.Fatalf("agent on another node's data dir exited %d, want 1", code)
	}
	if !strings.Contains(a.log.String(), `belongs to node "dev"`) {
		t.Fatal("agent on another node's data dir did not say whose it is")
	}

	for _, args := range [][]string{
		{"agent", "--dev", "--no-such-flag"},
		{"agent", "--dev", "--join", "127.0.0.1:1"},
		{"agent", "--node-id", "x", "--data-dir", "d", "--bootstrap", "--initial-cluster", "x=127.0.0.1:1"},
		{"agent", "--dev", "--heartbeat-timeout", "soon"},
		{"status", "-o", "yaml"},
	} {
		a.start(args...)
		if code := a.waitExit(exitTimeout); code != 2 {
			t.Fatalf("concord %s exited %d, want 2", strings.Join(args, " "), code)
		}
	}
}
