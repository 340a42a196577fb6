package agenttest_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/concord-db/concord/agent"
	"github.com/concord-db/concord/agent/agenttest"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

const noSpace = "etcdserver: mvcc: database space exceeded"

func quotaHTTP(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func quotaCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestQuotaNoSpace: with --quota-backend-bytes set, the put that would pass
// the quota raises NOSPACE (through the log: every member lists it, a
// restarted member still does) and is refused with etcd's error; then
// puts, writing txns, lease grants, REST puts, SQL writes and resource
// writes are refused on every member, while reads, deletes, resource
// deletes and compaction work; `alarm disarm` lets writes in again.
func TestQuotaNoSpace(t *testing.T) {
	const quota = 48 << 10
	c := agenttest.Start(t, 3, agenttest.Options{Configure: func(_ int, cfg *agent.Config) {
		cfg.QuotaBackendBytes = quota
	}})
	cli := c.Client()
	f := c.Follower()
	fcli := c.Client(f)
	base := "http://" + c.Endpoint(c.Leader())
	const item = "/v1/resource/demo/v2/Artist/korn"
	if st, body := quotaHTTP(t, "PUT", base+item, `{"data": {"name": "Korn"}}`); st != http.StatusOK {
		t.Fatalf("resource write before the alarm: HTTP %d %s", st, body)
	}
	if st, body := quotaHTTP(t, "POST", base+"/db/execute", `["CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"]`); st != http.StatusOK || strings.Contains(body, `"error"`) {
		t.Fatalf("sql before the alarm: HTTP %d %s", st, body)
	}

	value := strings.Repeat("v", 1024)
	var err error
	puts := 0
	for ; puts < 2*quota/1024 && err == nil; puts++ {
		_, err = fcli.Put(quotaCtx(t), "fill/"+string(rune('a'+puts%26))+strings.Repeat("x", puts/26), value)
	}
	if err == nil || err.Error() != noSpace {
		t.Fatalf("after %d puts of 1 KiB under a %d-byte quota: %v, want %q", puts, quota, err, noSpace)
	}
	if puts < quota/2048 {
		t.Fatalf("refused after only %d puts", puts)
	}

	ml, err := cli.MemberList(quotaCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]uint64{}
	for _, m := range ml.Members {
		ids[m.Name] = m.ID
	}
	for i := range c.Size() {
		var alarms []*pb.AlarmMember
		c.WaitFor(10*time.Second, "every member to list the alarm", func() bool {
			resp, err := c.Client(i).AlarmList(quotaCtx(t))
			if err != nil {
				t.Fatalf("member %d alarm list: %v", i, err)
			}
			alarms = resp.Alarms
			return len(alarms) > 0
		})
		if len(alarms) != 1 || alarms[0].Alarm != pb.AlarmType_NOSPACE || alarms[0].MemberID != ids["m"+string(rune('0'+f))] {
			t.Fatalf("member %d lists %v, want NOSPACE of member %d (%x)", i, alarms, f, ids["m"+string(rune('0'+f))])
		}
		st, err := c.Client(i).Status(quotaCtx(t), c.Endpoint(i))
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Errors) != 1 || !strings.Contains(st.Errors[0], "NOSPACE") {
			t.Fatalf("member %d status errors %v", i, st.Errors)
		}
	}

	refused := func(what string, err error) {
		t.Helper()
		if err == nil || err.Error() != noSpace {
			t.Fatalf("%s under NOSPACE: %v, want %q", what, err, noSpace)
		}
	}
	// A small put that fits the quota is refused too: the alarm holds
	// until disarmed.
	_, err = cli.Put(quotaCtx(t), "small", "v")
	refused("put", err)
	_, err = cli.Txn(quotaCtx(t)).Then(clientv3.OpPut("txn", "v")).Commit()
	refused("txn put", err)
	_, err = cli.Grant(quotaCtx(t), 60)
	refused("lease grant", err)
	if st, body := quotaHTTP(t, "PUT", base+"/v1/kv/rest", `{"value": "v"}`); st != http.StatusInsufficientStorage || !strings.Contains(body, "no_space") {
		t.Fatalf("REST put: HTTP %d %s", st, body)
	}
	if st, body := quotaHTTP(t, "POST", base+"/db/execute", `["INSERT INTO t(v) VALUES ('x')"]`); st != http.StatusInsufficientStorage {
		t.Fatalf("sql insert: HTTP %d %s", st, body)
	}
	if st, body := quotaHTTP(t, "PUT", base+item, `{"data": {"name": "KoЯn"}}`); st != http.StatusInsufficientStorage || !strings.Contains(body, "no_space") {
		t.Fatalf("resource write: HTTP %d %s", st, body)
	}

	if r, err := cli.Get(quotaCtx(t), "fill/", clientv3.WithPrefix(), clientv3.WithCountOnly()); err != nil || r.Count == 0 {
		t.Fatalf("read under NOSPACE: %v", err)
	}
	del, err := cli.Delete(quotaCtx(t), "fill/", clientv3.WithPrefix())
	if err != nil || del.Deleted == 0 {
		t.Fatalf("delete under NOSPACE: %v", err)
	}
	if _, err := cli.Compact(quotaCtx(t), del.Header.Revision); err != nil {
		t.Fatalf("compact under NOSPACE: %v", err)
	}
	if st, body := quotaHTTP(t, "DELETE", base+item, ""); st != http.StatusNoContent {
		t.Fatalf("resource delete under NOSPACE: HTTP %d %s", st, body)
	}

	// The alarm is replicated state: a restarted member still has it.
	c.Crash(f)
	c.Restart(f)
	c.WaitReady()
	if resp, err := c.Client(f).AlarmList(quotaCtx(t)); err != nil || len(resp.Alarms) != 1 {
		t.Fatalf("restarted member lists %v (%v)", resp, err)
	}
	_, err = c.Client(f).Put(quotaCtx(t), "small", "v")
	refused("put on the restarted member", err)

	resp, err := cli.AlarmDisarm(quotaCtx(t), &clientv3.AlarmMember{})
	if err != nil || len(resp.Alarms) != 1 {
		t.Fatalf("disarm: %v (%v)", resp, err)
	}
	if _, err := c.Client(f).Put(quotaCtx(t), "small", "v"); err != nil {
		t.Fatalf("put after disarm: %v", err)
	}
	if st, body := quotaHTTP(t, "POST", base+"/db/execute", `["INSERT INTO t(v) VALUES ('x')"]`); st != http.StatusOK || strings.Contains(body, `"error"`) {
		t.Fatalf("sql after disarm: HTTP %d %s", st, body)
	}
}
