package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// runCLIExit runs a client command and returns its stdout, stderr and
// exit code (0 when it succeeded).
func runCLIExit(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = cleanEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return stdout.String(), stderr.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("concord %s: %v", strings.Join(args, " "), err)
	}
	return stdout.String(), stderr.String(), 0
}

// clusterJSON is what concord status --cluster -o json prints.
type clusterJSON struct {
	Healthy bool   `json:"healthy"`
	Leader  string `json:"leader"`
	Members []struct {
		ID      string `json:"id"`
		Voter   bool   `json:"voter"`
		Leader  bool   `json:"leader"`
		Healthy bool   `json:"healthy"`
		Error   string `json:"error"`
	} `json:"members"`
}

// TestClusterStatusAndMembership drives concord status --cluster, health
// --cluster and the members commands against three real members: all
// healthy with one leader; a killed follower makes both exit 1 and shows
// as unreachable; removing the live follower is refused by the strict
// reconfiguration check; the dead one is removed; a learner is added,
// promoted and handed leadership.
func TestClusterStatusAndMembership(t *testing.T) {
	t.Parallel()
	agents := newAgents(t, 3)
	startInitialCluster(agents)
	waitReady(t, agents...)
	leader := waitOneLeader(t, agents...)
	ep := "--endpoints=" + leader.clientAddr

	var cs clusterJSON
	waitFor(t, readyTimeout, "a healthy cluster in status --cluster", func() error {
		out, _, code := runCLIExit(t, "status", "--cluster", "-o", "json", ep)
		if err := json.Unmarshal([]byte(out), &cs); err != nil {
			return fmt.Errorf("exit %d, %v: %s", code, err, out)
		}
		if code != 0 || !cs.Healthy || len(cs.Members) != 3 || cs.Leader != leader.id {
			return fmt.Errorf("exit %d: %s", code, out)
		}
		return nil
	})
	table := runCLI(t, "status", "--cluster", ep)
	if strings.Count(table, "healthy") != 3 || strings.Count(table, "*") != 1 {
		t.Fatalf("status --cluster table, want 3 healthy rows and one leader mark:\n%s", table)
	}
	if out := runCLI(t, "health", "--cluster", ep); strings.Count(out, "is healthy") != 3 {
		t.Fatalf("health --cluster: %s", out)
	}

	fs := others(agents, leader)
	dead, live := fs[0], fs[1]
	dead.kill()
	out, _, code := runCLIExit(t, "health", "--cluster", ep)
	if code != 1 || !strings.Contains(out, dead.id+" ("+dead.clientAddr+") is unhealthy") {
		t.Fatalf("health --cluster with %s killed: exit %d, want 1:\n%s", dead.id, code, out)
	}
	out, _, code = runCLIExit(t, "status", "--cluster", ep)
	if code != 1 || !strings.Contains(out, "unreachable") {
		t.Fatalf("status --cluster with %s killed: exit %d, want 1:\n%s", dead.id, code, out)
	}

	_, errOut, code := runCLIExit(t, "members", "remove", live.id, ep)
	if code != 1 || !strings.Contains(errOut, "refused") {
		t.Fatalf("removing live follower %s with %s down: exit %d, want a refusal: %s", live.id, dead.id, code, errOut)
	}
	if ms, err := leader.members(); err != nil || len(ms) != 3 {
		t.Fatalf("a refused removal changed the members: %v %v", ms, err)
	}
	runCLI(t, "members", "remove", dead.id, ep)
	waitVoters(t, []*agent{leader, live}, 2)

	n4 := newAgent(t, "n4")
	runCLI(t, "members", "add", n4.id, n4.peerAddr, "--client-addr", n4.clientAddr, "--learner", ep)
	n4.start(n4.nodeArgs()...)
	waitReady(t, n4)
	if out := runCLI(t, "members", "promote", n4.id, ep); !strings.Contains(out, "promoted member n4") {
		t.Fatalf("promote: %s", out)
	}
	waitVoters(t, []*agent{leader, live, n4}, 3)
	runCLI(t, "members", "transfer-leader", n4.id, ep)
	if got := waitOneLeader(t, leader, live, n4); got != n4 {
		t.Fatalf("leader after transfer-leader n4 is %s", got.id)
	}
	if out := runCLI(t, "health", "--cluster", "--endpoints="+n4.clientAddr); strings.Count(out, "is healthy") != 3 {
		t.Fatalf("health --cluster after the changes: %s", out)
	}
}
