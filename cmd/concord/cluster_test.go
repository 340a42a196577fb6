package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/concord-db/concord/server"
)

func clusterOf(voterUp ...string) clusterState {
	var cs clusterState
	for i, s := range voterUp {
		m := memberState{ID: string(rune('a' + i)), Voter: s != "learner" && s != "learner-down", Ready: true}
		if strings.HasSuffix(s, "down") {
			m.Error, m.Ready = "unreachable", false
		}
		cs.Members = append(cs.Members, m)
	}
	return cs
}

// TestQuorumCheck is etcd's strict reconfiguration check: a change that
// leaves the voters that are up short of a quorum is refused.
func TestQuorumCheck(t *testing.T) {
	for _, tc := range []struct {
		name          string
		cs            clusterState
		delta, upDiff int
		ok            bool
	}{
		{"add to three up", clusterOf("up", "up", "up"), 1, 0, true},
		{"add to three, one down", clusterOf("up", "up", "down"), 1, 0, false},
		{"add the second voter of a one-member cluster", clusterOf("up"), 1, 0, true},
		{"remove a down voter", clusterOf("up", "up", "down"), -1, 0, true},
		{"remove an up voter, another down", clusterOf("up", "up", "down"), -1, -1, false},
		{"remove an up voter, all up", clusterOf("up", "up", "up"), -1, -1, true},
		{"promote an up learner with one voter down", clusterOf("up", "up", "down", "learner"), 1, 1, true},
		{"promote a down learner with one voter down", clusterOf("up", "up", "down", "learner-down"), 1, 0, false},
	} {
		err := quorumCheck(tc.cs, tc.delta, tc.upDiff)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok=%t", tc.name, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "--force") {
			t.Errorf("%s: the refusal does not mention --force: %v", tc.name, err)
		}
	}
}

// TestMemberStateFill: health, leader mark, alarms and db size from a
// member's own status.
func TestMemberStateFill(t *testing.T) {
	var m memberState
	st := memberStatus{StatusResponse: server.StatusResponse{ID: "n1", LeaderID: "n1", State: "Leader", Ready: true,
		Version: "v1.2.3 0123456789ab", Faces: map[string]any{"sql": map[string]any{"size_bytes": float64(4096)}}}}
	m.fill(st)
	if !m.Healthy || !m.Leader || m.DBSizeBytes != 4096 || m.Version != "v1.2.3 0123456789ab" {
		t.Fatalf("%+v", m)
	}
	st.DiskFull = true
	m = memberState{ID: "n1"}
	m.fill(st)
	if m.Healthy || len(m.Alarms) != 1 || m.Alarms[0] != "DISK_FULL" {
		t.Fatalf("disk full: %+v", m)
	}
	var buf bytes.Buffer
	if err := printCluster(&buf, clusterState{Members: []memberState{m, {ID: "n2", Error: "refused", State: "Unknown"}}}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"VERSION", "v1.2.3 0123456789ab", "n1", "*", `["DISK_FULL"]`, "unhealthy", "unreachable: refused"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}
