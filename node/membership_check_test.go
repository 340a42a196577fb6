package node

import (
	"context"
	"errors"
	"testing"
)

// TestMembershipCheckWithoutConfiguration: a member that has no cluster
// configuration yet (started to be added, or a slow member of a new
// cluster before its bootstrap) cannot know who is a member, so it answers
// a peer's "am I still a member?" with an error, never with "no": a peer
// told "no" while the answering member knew a leader marked itself removed
// and stopped for good (seen while a new cluster formed on a loaded
// machine).
func TestMembershipCheckWithoutConfiguration(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ID, cfg.DataDir, cfg.PeerAddr = "m9", t.TempDir(), "127.0.0.1:0"
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown()
	resp := n.handleMembershipCheck(context.Background(), &membershipCheckRequest{id: "m1"})
	if err := resp.err(); err == nil || !errors.Is(err, ErrNoLeader) {
		t.Fatalf("membership check on a member without configuration: member=%v removed=%v err=%v, want ErrNoLeader",
			resp.member, resp.removed, err)
	}
}
