package agent

import (
	"context"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc"

	"github.com/concord-db/concord/server"
	"github.com/concord-db/concord/server/console"
	"github.com/concord-db/concord/server/etcdapi"
)

// consoleFace is the web console at /ui (server/console): pages embedded
// in the binary that use the member's REST APIs, and the console's own
// JSON endpoints (cluster view, metrics, session). It has no state
// machine and no data of its own.
type consoleFace struct {
	c *console.Console
}

func (f *consoleFace) Name() string { return "console" }

// Diskless: the console keeps nothing on disk.
func (f *consoleFace) Diskless() {}

// Open builds the console on the member's node, auth store, metrics and
// alarms.
func (f *consoleFace) Open(env FaceEnv) error {
	cfg := console.Config{Node: env.Node, Gatherer: env.Registry, Logger: env.Logger, MemberID: etcdapi.MemberID}
	if env.Auth != nil {
		cfg.Auth = env.Auth
	}
	if env.Quota != nil {
		cfg.Alarms = func() []console.Alarm {
			var out []console.Alarm
			for _, a := range env.Quota.Alarms() {
				out = append(out, console.Alarm{MemberID: a.MemberID, Name: pb.AlarmType_name[int32(a.Alarm)]})
			}
			return out
		}
	}
	c, err := console.New(cfg)
	if err != nil {
		return err
	}
	f.c = c
	return nil
}

func (f *consoleFace) RegisterGRPC(*grpc.Server) {}

// Extension serves /ui (public files) and /v1/console/*.
func (f *consoleFace) Extension() server.Extension {
	if f.c == nil {
		return server.Extension{Name: f.Name()}
	}
	return server.Extension{Name: f.Name(), Routes: f.c.Routes(), Public: f.c.Public()}
}

func (f *consoleFace) Run(context.Context) {}

func (f *consoleFace) Close() error { return nil }
