package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// kvPut writes key=value through a's client port with the CLI.
func kvPut(t *testing.T, a *agent, key, value string) {
	t.Helper()
	runCLI(t, "kv", "put", key, value, "--endpoints="+a.clientAddr)
}

// waitKV waits until a serves key with value (a linearizable read through
// a itself).
func waitKV(t *testing.T, a *agent, key, value string) {
	t.Helper()
	waitFor(t, readyTimeout, fmt.Sprintf("%s=%s on %s", key, value, a.id), func() error {
		out, errOut, code := runCLIExit(t, "kv", "get", key, "-o", "value", "--endpoints="+a.clientAddr, "--timeout=5s")
		if code != 0 {
			return fmt.Errorf("exit %d: %s", code, errOut)
		}
		if got := strings.TrimSpace(out); got != value {
			return fmt.Errorf("got %q", got)
		}
		return nil
	})
}

// TestForceNewCluster is the recovery from the loss of a majority: a
// three-member cluster loses all its members, one survivor's data dir is
// started with --force-new-cluster and is a one-member cluster with every
// key; the cluster is grown again with members add and a new agent.
func TestForceNewCluster(t *testing.T) {
	t.Parallel()
	agents := newAgents(t, 3)
	startInitialCluster(agents)
	waitReady(t, agents...)
	waitOneLeader(t, agents...)
	for i := range 20 {
		kvPut(t, agents[i%3], fmt.Sprintf("k%02d", i), fmt.Sprintf("v%d", i))
	}
	survivor := agents[0]
	waitKV(t, survivor, "k19", "v19")
	for _, a := range agents {
		a.kill()
	}

	// Without the flag, the survivor alone never gets a quorum.
	survivor.start(append(survivor.nodeArgs(), "--force-new-cluster")...)
	waitReady(t, survivor)
	if got := waitOneLeader(t, survivor); got != survivor {
		t.Fatalf("leader %s", got.id)
	}
	waitVoters(t, []*agent{survivor}, 1)
	for i := range 20 {
		waitKV(t, survivor, fmt.Sprintf("k%02d", i), fmt.Sprintf("v%d", i))
	}
	kvPut(t, survivor, "after", "recovery")

	// Restarted without the flag, it stays a one-member cluster.
	survivor.stop()
	survivor.start(survivor.nodeArgs()...)
	waitReady(t, survivor)
	waitVoters(t, []*agent{survivor}, 1)

	// Grow the cluster again: a fresh member, started first (it waits to
	// be contacted: with two voters the leader needs it for every commit),
	// then added with members add.
	n4 := newAgent(t, "n4")
	n4.start(n4.nodeArgs()...)
	runCLI(t, "members", "add", n4.id, n4.peerAddr, "--client-addr", n4.clientAddr, "--endpoints="+survivor.clientAddr)
	waitReady(t, n4)
	waitVoters(t, []*agent{survivor, n4}, 2)
	waitKV(t, n4, "k07", "v7")
	waitKV(t, n4, "after", "recovery")
}

// TestReplaceDeadDisk replaces a member whose disk died: it is removed,
// its data dir is gone, and it is added back under the same id and
// address with an empty data dir, catching up from the others.
func TestReplaceDeadDisk(t *testing.T) {
	t.Parallel()
	agents := newAgents(t, 3)
	startInitialCluster(agents)
	waitReady(t, agents...)
	leader := waitOneLeader(t, agents...)
	kvPut(t, leader, "before", "loss")
	dead := others(agents, leader)[0]
	dead.kill()
	if err := os.RemoveAll(dead.dataDir()); err != nil {
		t.Fatal(err)
	}
	ep := "--endpoints=" + leader.clientAddr
	runCLI(t, "members", "remove", dead.id, ep)
	waitVoters(t, others(agents, dead), 2)
	kvPut(t, leader, "while", "down")
	runCLI(t, "members", "add", dead.id, dead.peerAddr, "--client-addr", dead.clientAddr, ep)
	dead.start(dead.nodeArgs()...)
	waitReady(t, dead)
	waitVoters(t, agents, 3)
	waitKV(t, dead, "before", "loss")
	waitKV(t, dead, "while", "down")
	if out := runCLI(t, "health", "--cluster", ep); strings.Count(out, "is healthy") != 3 {
		t.Fatalf("health --cluster: %s", out)
	}
}

// TestRestoreBackupIntoNewCluster restores a backup of one cluster into a
// new, empty three-member cluster: every key, on every new member.
func TestRestoreBackupIntoNewCluster(t *testing.T) {
	t.Parallel()
	old := newAgents(t, 3)
	startInitialCluster(old)
	waitReady(t, old...)
	oldLeader := waitOneLeader(t, old...)
	for i := range 10 {
		kvPut(t, oldLeader, fmt.Sprintf("b%02d", i), fmt.Sprintf("v%d", i))
	}
	backup := filepath.Join(t.TempDir(), "backup.snap")
	runCLI(t, "snapshot", "save", backup, "--endpoints="+oldLeader.clientAddr)
	for _, a := range old {
		a.kill()
	}

	fresh := []*agent{newAgent(t, "m1"), newAgent(t, "m2"), newAgent(t, "m3")}
	startInitialCluster(fresh)
	waitReady(t, fresh...)
	waitOneLeader(t, fresh...)
	runCLI(t, "snapshot", "restore", "--yes", backup, "--endpoints="+fresh[1].clientAddr)
	for _, a := range fresh {
		waitKV(t, a, "b00", "v0")
		waitKV(t, a, "b09", "v9")
	}
	waitVoters(t, fresh, 3)
}
