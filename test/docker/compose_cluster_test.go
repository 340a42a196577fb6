package docker

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	lin "github.com/concord-db/concord/test/linearizability"
)

// composeCluster is deploy/compose.yaml brought up as is, under a project
// name of its own, with the members' client ports published on free host
// ports.
type composeCluster struct {
	t       *testing.T
	base    []string // docker compose, or docker-compose
	project string
	env     []string
	members []*composeMember
}

// composeProjects numbers the projects of one test binary.
var composeProjects atomic.Int32

// upCompose runs `compose up -d` on deploy/compose.yaml and waits until
// every member is ready. Cleanup prints the logs if the test failed and
// runs `compose down -v`.
func upCompose(t *testing.T) *composeCluster {
	t.Helper()
	c := &composeCluster{t: t, base: compose(t),
		project: fmt.Sprintf("concordtest%d-%d", os.Getpid(), composeProjects.Add(1))}
	c.env = append(os.Environ(), "CONCORD_IMAGE="+image)
	for i := range 3 {
		m := &composeMember{c: c, id: fmt.Sprintf("n%d", i+1), port: freePort(t)}
		c.members = append(c.members, m)
		c.env = append(c.env, fmt.Sprintf("CONCORD_N%d_PORT=%s", i+1, m.port))
	}
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := c.run("logs", "--no-color", "--tail", "300")
			t.Logf("compose logs:\n%s", out)
		}
		if out, err := c.run("down", "-v", "--remove-orphans"); err != nil {
			t.Logf("compose down: %v\n%s", err, out)
		}
	})
	if out, err := c.run("up", "-d"); err != nil {
		t.Fatalf("compose up: %v\n%s", err, out)
	}
	for _, m := range c.members {
		waitReady(t, m.ClientAddr(), 90*time.Second)
	}
	return c
}

// run runs a compose command on the project and returns its combined
// output.
func (c *composeCluster) run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	full := append(append(c.base[1:len(c.base):len(c.base)], "-p", c.project, "-f", filepath.Join(repoRoot, "deploy", "compose.yaml")), args...)
	cmd := exec.CommandContext(ctx, c.base[0], full...)
	cmd.Env = c.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w", strings.Join(c.base, " "), strings.Join(args, " "), err)
	}
	return string(out), nil
}

// external is the cluster as the reliability suite drives it.
func (c *composeCluster) external() *lin.External {
	ms := make([]lin.Member, len(c.members))
	for i, m := range c.members {
		ms[i] = m
	}
	return lin.NewExternal(ms...)
}

// composeMember is one service of the compose file; it implements
// lin.Member through docker and compose commands on its container.
type composeMember struct {
	c    *composeCluster
	id   string // the service name, which is also the node id
	port string // the client port published on the host
	cid  string // the container's id, once known (kept across restarts)
}

func (m *composeMember) ID() string         { return m.id }
func (m *composeMember) ClientAddr() string { return "127.0.0.1:" + m.port }

// container is the id of the service's container (stable across restarts).
func (m *composeMember) container() (string, error) {
	if m.cid != "" {
		return m.cid, nil
	}
	out, err := m.c.run("ps", "-q", m.id)
	id := strings.TrimSpace(out)
	if err == nil && id == "" {
		err = fmt.Errorf("service %s has no container", m.id)
	}
	if err == nil {
		m.cid = id
	}
	return id, err
}

func (m *composeMember) Start(context.Context) error { _, err := m.c.run("start", m.id); return err }
func (m *composeMember) Kill() error                 { _, err := m.c.run("kill", m.id); return err }
func (m *composeMember) Pause() error                { _, err := m.c.run("pause", m.id); return err }
func (m *composeMember) Resume() error               { _, err := m.c.run("unpause", m.id); return err }
func (m *composeMember) Disconnect() error           { return lin.ErrUnsupported }
func (m *composeMember) Connect() error              { return lin.ErrUnsupported }

// exec runs the concord binary inside the member's container (the image
// has no shell, only /concord) and returns its combined output.
func (m *composeMember) exec(ctx context.Context, args ...string) (string, error) {
	id, err := m.container()
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "docker", append([]string{"exec", id, "/concord"}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// health is the container's health as docker reports it from the compose
// file's healthcheck: starting, healthy or unhealthy.
func (m *composeMember) health() (string, error) {
	id, err := m.container()
	if err != nil {
		return "", err
	}
	return docker("inspect", "-f", "{{if .State.Health}}{{.State.Health.Status}}{{else}}no healthcheck{{end}}", id)
}
