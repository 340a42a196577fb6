package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestEtcdctlAlarmNoSpace runs Debian's etcdctl against three real members
// started with --quota-backend-bytes: puts until the quota refuses one
// with etcd's error, `alarm list` on every member (a killed and restarted
// one too) shows the NOSPACE alarm, `endpoint status` lists it, reads,
// deletes and compaction work, and `alarm disarm` lets puts in again.
func TestEtcdctlAlarmNoSpace(t *testing.T) {
	etcdctl := etcdctlBinary(t)
	t.Parallel()
	const quota = 64 << 10
	agents := newAgents(t, 3)
	var peers []string
	for _, a := range agents {
		peers = append(peers, a.id+"="+a.peerAddr)
	}
	quotaArgs := func(a *agent) []string {
		return append(a.nodeArgs(), "--quota-backend-bytes", fmt.Sprint(quota))
	}
	for _, a := range agents {
		a.start(append(quotaArgs(a), "--initial-cluster", strings.Join(peers, ","))...)
	}
	waitReady(t, agents...)
	waitOneLeader(t, agents...)
	ctl := func(endpoints string, args ...string) (string, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, etcdctl, append([]string{"--endpoints=" + endpoints, "--command-timeout=20s"}, args...)...)
		cmd.Env = append(cleanEnv(), "ETCDCTL_API=3")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		if err != nil {
			err = fmt.Errorf("%v: %s", err, errb.String())
		}
		return out.String(), err
	}
	all := clientAddrs(agents)
	must := func(endpoints string, args ...string) string {
		t.Helper()
		out, err := ctl(endpoints, args...)
		if err != nil {
			t.Fatalf("etcdctl %v: %v", args, err)
		}
		return out
	}
	const noSpace = "etcdserver: mvcc: database space exceeded"

	value := strings.Repeat("v", 4096)
	var err error
	n := 0
	for ; n < 2*quota/4096 && err == nil; n++ {
		_, err = ctl(agents[1].clientAddr, "put", fmt.Sprintf("fill/%03d", n), value)
	}
	if err == nil || !strings.Contains(err.Error(), noSpace) {
		t.Fatalf("after %d puts of 4 KiB under a %d-byte quota: %v, want %q", n, quota, err, noSpace)
	}
	alarm := regexp.MustCompile(`^memberID:\d+ alarm:NOSPACE \n$`)
	for _, a := range agents {
		waitFor(t, 10*time.Second, a.id+" to list the alarm", func() error {
			if out := must(a.clientAddr, "alarm", "list"); !alarm.MatchString(out) {
				return fmt.Errorf("alarm list on %s: %q", a.id, out)
			}
			return nil
		})
	}
	if out := must(all, "endpoint", "status", "-w", "table"); !strings.Contains(out, "alarm:NOSPACE") {
		t.Fatalf("endpoint status does not show the alarm:\n%s", out)
	}
	if _, err := ctl(all, "put", "small", "v"); err == nil || !strings.Contains(err.Error(), noSpace) {
		t.Fatalf("small put under NOSPACE: %v", err)
	}
	if out := must(all, "get", "fill/000", "--print-value-only"); out != value+"\n" {
		t.Fatalf("get under NOSPACE: %d bytes", len(out))
	}
	if out := must(all, "del", "fill/", "--prefix"); out != fmt.Sprintf("%d\n", n-1) {
		t.Fatalf("del under NOSPACE: %q, want %d", out, n-1)
	}
	rev := regexp.MustCompile(`"revision":(\d+)`).FindStringSubmatch(must(all, "get", "x", "-w", "json"))
	if rev == nil {
		t.Fatal("no revision in get -w json")
	}
	if out := must(all, "compact", rev[1]); !strings.Contains(out, "compacted revision "+rev[1]) {
		t.Fatalf("compact under NOSPACE: %q", out)
	}

	// The alarm is replicated state: a member killed and restarted on its
	// data dir still lists it.
	agents[2].kill()
	agents[2].start(quotaArgs(agents[2])...)
	waitReady(t, agents[2])
	if out := must(agents[2].clientAddr, "alarm", "list"); !alarm.MatchString(out) {
		t.Fatalf("alarm list on the restarted member: %q", out)
	}

	if out := must(all, "alarm", "disarm"); !alarm.MatchString(out) {
		t.Fatalf("alarm disarm: %q", out)
	}
	if out := must(all, "alarm", "list"); out != "" {
		t.Fatalf("alarm list after disarm: %q", out)
	}
	for _, a := range agents {
		if out := must(a.clientAddr, "put", "after/"+a.id, "v"); out != "OK\n" {
			t.Fatalf("put on %s after disarm: %q", a.id, out)
		}
	}
}
