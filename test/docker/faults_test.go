package docker

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"strings"
	"testing"
	"time"

	lin "github.com/concord-db/concord/test/linearizability"
)

// container is one member running in a container on the test's network.
type container struct {
	name, id, network, ip string
}

func (c *container) ID() string                      { return c.id }
func (c *container) ClientAddr() string              { return c.ip + ":2379" }
func (c *container) Start(ctx context.Context) error { return run("start", c.name) }
func (c *container) Kill() error                     { return run("kill", c.name) }
func (c *container) Pause() error                    { return run("pause", c.name) }
func (c *container) Resume() error                   { return run("unpause", c.name) }
func (c *container) Disconnect() error               { return run("network", "disconnect", c.network, c.name) }
func (c *container) Connect() error {
	return run("network", "connect", "--ip", c.ip, "--alias", c.id, c.network, c.name)
}

func run(args ...string) error { _, err := docker(args...); return err }

// startContainers starts three members on a fresh private network, each
// with a fixed address so that a reconnected member keeps it.
func startContainers(t *testing.T, seed int64) *lin.External {
	t.Helper()
	prefix := fmt.Sprintf("concordtest%d-%d", os.Getpid(), seed)
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	var network, base string
	for try := 0; ; try++ {
		var sub string
		sub, base = subnet(rng)
		network = prefix + "-net"
		if _, err := docker("network", "create", "--subnet", sub, network); err == nil {
			break
		} else if try == 10 {
			t.Fatalf("no free subnet for the test network: %v", err)
		}
	}
	var cs []*container
	var peers []string
	for i := range 3 {
		c := &container{name: fmt.Sprintf("%s-n%d", prefix, i+1), id: fmt.Sprintf("n%d", i+1), network: network, ip: fmt.Sprintf("%s%d", base, 10+i)}
		cs = append(cs, c)
		peers = append(peers, c.id+"="+c.id+":2380")
	}
	t.Cleanup(func() {
		for _, c := range cs {
			if t.Failed() {
				state, _ := docker("inspect", "-f", "status={{.State.Status}} exit={{.State.ExitCode}} oom={{.State.OOMKilled}} error={{.State.Error}} ip={{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", c.name)
				logs, _ := docker("logs", "--tail", "200", c.name)
				t.Logf("==== %s (%s) ====\n%s", c.name, state, logs)
			}
			docker("rm", "-f", "-v", c.name)
		}
		docker("network", "rm", network)
	})
	var members []lin.Member
	for _, c := range cs {
		_, err := docker("run", "-d", "--name", c.name, "--network", network, "--ip", c.ip, "--network-alias", c.id, image,
			"agent", "--node-id", c.id, "--data-dir", "/data",
			"--client-addr", "0.0.0.0:2379", "--advertise-client-addr", c.ClientAddr(),
			"--peer-addr", "0.0.0.0:2380", "--advertise-peer-addr", c.id+":2380",
			"--initial-cluster", strings.Join(peers, ","),
			"--heartbeat-timeout", "1s", "--election-timeout", "1s", "--log-level", "warn")
		if err != nil {
			t.Fatal(err)
		}
		members = append(members, c)
	}
	e := lin.NewExternal(members...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := e.Heal(ctx); err != nil {
		t.Fatalf("container cluster did not start: %v", err)
	}
	return e
}

// TestContainerFaults runs scenarios against three containers with faults
// injected by docker: network disconnect/connect (of any member and of the
// leader), pause/unpause, kill and restart, kill of every container at once.
func TestContainerFaults(t *testing.T) {
	needDocker(t)
	if testing.Short() {
		t.Skip("-short: container fault scenarios take a minute or more")
	}
	k := lin.RunKnobs(1, 20*time.Second)
	t.Logf("containers: %d seeds from %d, %s each (CONCORD_SEED=%d replays)", k.Seeds, k.Seed, k.Duration, k.Seed)
	for i := range k.Seeds {
		seed := k.Seed + int64(i)
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			e := startContainers(t, seed)
			s := lin.Scenario{Name: fmt.Sprintf("containers-seed%d", seed), Seed: seed, Duration: k.Duration,
				Faults:        []lin.FaultKind{lin.Disconnect, lin.IsolateLeader, lin.Pause, lin.Crash, lin.KillAll, lin.TransferLeader},
				CrashAllAtEnd: true, FaultFor: [2]time.Duration{time.Second, 4 * time.Second}, FaultGap: [2]time.Duration{time.Second, 3 * time.Second},
				Workload: lin.Workload{OpTimeout: 3 * time.Second, LockTTL: 3}}
			lin.Run(t, s, e)
		})
	}
}
