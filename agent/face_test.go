package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/concord-db/concord/agent"
	"github.com/concord-db/concord/node"
	"github.com/concord-db/concord/server"
	"google.golang.org/grpc"
)

// counterFace is a minimal face: a replicated counter with an HTTP route
// that increments it through the log and a status section that reports it.
type counterFace struct {
	n      *node.Node
	dir    string
	count  atomic.Int64
	closed atomic.Bool
}

func (f *counterFace) Name() string { return "counter" }

func (f *counterFace) Open(env agent.FaceEnv) error {
	f.n, f.dir = env.Node, env.DataDir
	return env.Node.Register(node.TypeUser, (*counterSM)(f))
}

func (f *counterFace) RegisterGRPC(*grpc.Server) {}

func (f *counterFace) Extension() server.Extension {
	return server.Extension{
		Name: f.Name(),
		Routes: map[string]http.Handler{
			"POST /v1/counter": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				res, err := f.n.Apply(r.Context(), node.TypeUser, []byte{1})
				if err != nil {
					http.Error(w, err.Error(), http.StatusServiceUnavailable)
					return
				}
				w.Write(res.Data)
			}),
		},
		Status: func(context.Context) any { return map[string]int64{"count": f.count.Load()} },
	}
}

func (f *counterFace) Run(ctx context.Context) { <-ctx.Done() }

func (f *counterFace) Close() error { f.closed.Store(true); return nil }

// counterSM is the face's state machine.
type counterSM counterFace

func (s *counterSM) Apply(_ uint64, cmd []byte) []byte {
	return []byte(strconv.FormatInt(s.count.Add(int64(len(cmd))), 10))
}

func (s *counterSM) Snapshot() (node.Snapshot, error) { return counterSnap(s.count.Load()), nil }

func (s *counterSM) Restore(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	v := int64(0)
	if len(b) > 0 {
		if v, err = strconv.ParseInt(string(b), 10, 64); err != nil {
			return err
		}
	}
	s.count.Store(v)
	return nil
}

type counterSnap int64

func (c counterSnap) Persist(w io.Writer) error {
	_, err := fmt.Fprint(w, int64(c))
	return err
}
func (counterSnap) Release() {}

// TestFaceIsWiredIntoTheMember checks the agent's face registration: a face
// gets its own data dir, its state machine applies through the log, its
// routes are served (with JSON 405s for other methods), its status is in
// GET /v1/status, and it is closed when the member stops.
func TestFaceIsWiredIntoTheMember(t *testing.T) {
	face := &counterFace{}
	cfg := agent.Config{ClientAddr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler), ExtraFaces: []agent.Face{face}}
	cfg.Node = node.DefaultConfig()
	cfg.Node.ID, cfg.Node.DataDir, cfg.Node.PeerAddr, cfg.Node.Bootstrap = "n1", filepath.Join(t.TempDir(), "n1"), "127.0.0.1:0", true
	cfg.Node.HeartbeatTimeout, cfg.Node.ElectionTimeout = 300*time.Millisecond, 300*time.Millisecond
	a, err := agent.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			a.Crash()
		}
	}()
	if a.Face("counter") != face {
		t.Fatalf("Face(counter) = %v", a.Face("counter"))
	}
	if fi, err := os.Stat(face.dir); err != nil || !fi.IsDir() || face.dir != filepath.Join(cfg.Node.DataDir, "counter") {
		t.Fatalf("face dir %q: %v", face.dir, err)
	}
	// A Diskless face (the web console) gets no directory.
	if _, err := os.Stat(filepath.Join(cfg.Node.DataDir, "console")); !os.IsNotExist(err) {
		t.Fatalf("the diskless console face has a data dir: %v", err)
	}
	select {
	case <-a.Node.Ready():
	case <-time.After(20 * time.Second):
		t.Fatal("node not ready")
	}
	base := "http://" + a.ClientAddr()
	for want := 1; want <= 2; want++ {
		resp, err := http.Post(base+"/v1/counter", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != strconv.Itoa(want) {
			t.Fatalf("POST /v1/counter: %d %q, want 200 %d", resp.StatusCode, body, want)
		}
	}

	resp, err := http.Get(base + "/v1/counter")
	if err != nil {
		t.Fatal(err)
	}
	var eb server.ErrorBody
	json.NewDecoder(resp.Body).Decode(&eb)
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" || eb.Code != server.CodeMethodNotAllowed {
		t.Fatalf("GET /v1/counter: %d Allow=%q %+v, want 405 Allow=POST code %s", resp.StatusCode, resp.Header.Get("Allow"), eb, server.CodeMethodNotAllowed)
	}

	resp, err = http.Get(base + "/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Faces map[string]map[string]int64 `json:"faces"`
	}
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil || st.Faces["counter"]["count"] != 2 {
		t.Fatalf("GET /v1/status faces = %v (%v), want counter.count 2", st.Faces, err)
	}

	resp, err = http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), `route="POST /v1/counter"`) {
		t.Fatalf("the face's route is not in the request metrics")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := a.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	stopped = true
	if !face.closed.Load() {
		t.Fatal("the face was not closed when the member stopped")
	}
}
