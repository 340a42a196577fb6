package linearizability

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"net/http"
	"sync"
	"time"

	"github.com/concord-db/concord/server/etcdapi"
)

// Member is one member of a cluster outside this process: an agent
// process or a container.
type Member interface {
	ID() string
	// ClientAddr is where the test's clients reach the member.
	ClientAddr() string
	// Start starts the member (again) on its data.
	Start(ctx context.Context) error
	// Kill kills it at once (SIGKILL, docker kill).
	Kill() error
	// Pause and Resume freeze and thaw it (SIGSTOP/SIGCONT, docker pause).
	Pause() error
	Resume() error
	// Disconnect and Connect take it off its network and back; a member
	// that cannot returns ErrUnsupported.
	Disconnect() error
	Connect() error
}

// External drives faults into a cluster of Members.
type External struct {
	Members []Member

	mu     sync.Mutex
	killed map[string]bool
	paused map[string]bool
	cut    map[string]bool
}

// NewExternal wraps running members.
func NewExternal(members ...Member) *External {
	return &External{Members: members, killed: map[string]bool{}, paused: map[string]bool{}, cut: map[string]bool{}}
}

// Endpoints implements Cluster.
func (e *External) Endpoints() []string {
	var eps []string
	for _, m := range e.Members {
		eps = append(eps, m.ClientAddr())
	}
	return eps
}

var statusClient = &http.Client{Timeout: 2 * time.Second}

// memberStatus is the part of a member's GET /v1/status the suite reads.
type memberStatus struct {
	ID           string `json:"id"`
	State        string `json:"state"`
	LeaderID     string `json:"leader_id"`
	LastLogIndex uint64 `json:"last_log_index"`
	CommitIndex  uint64 `json:"commit_index"`
	AppliedIndex uint64 `json:"applied_index"`
}

func status(ctx context.Context, m Member) (memberStatus, error) {
	var st memberStatus
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+m.ClientAddr()+"/v1/status", nil)
	if err != nil {
		return st, err
	}
	resp, err := statusClient.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("status of %s: HTTP %d", m.ID(), resp.StatusCode)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

func ready(ctx context.Context, m Member) error {
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+m.ClientAddr()+"/readyz", nil)
	if err != nil {
		return err
	}
	resp, err := statusClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s not ready: HTTP %d", m.ID(), resp.StatusCode)
	}
	return nil
}

// healthy members: neither killed, paused nor cut off.
func (e *External) healthy() []Member {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Member
	for _, m := range e.Members {
		if !e.killed[m.ID()] && !e.paused[m.ID()] && !e.cut[m.ID()] {
			out = append(out, m)
		}
	}
	return out
}

// leader polls the healthy members until one says it leads.
func (e *External) leader(ctx context.Context) (Member, error) {
	for {
		for _, m := range e.healthy() {
			if st, err := status(ctx, m); err == nil && st.State == "Leader" {
				return m, nil
			}
		}
		if err := pause(ctx, 100*time.Millisecond); err != nil {
			return nil, errors.New("no leader among the healthy members")
		}
	}
}

func (e *External) set(m map[string]bool, id string, v bool) {
	e.mu.Lock()
	m[id] = v
	e.mu.Unlock()
}

// Inject implements Cluster: crash, pause, kill-all, transfer-leader,
// disconnect and isolate-leader (a disconnect of the leader).
func (e *External) Inject(ctx context.Context, f Fault) (string, func(context.Context) error, error) {
	rng := rand.New(rand.NewSource(f.Seed))
	lctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	leader, err := e.leader(lctx)
	if err != nil {
		return "", nil, err
	}
	var followers []Member
	for _, m := range e.healthy() {
		if m != leader {
			followers = append(followers, m)
		}
	}
	victim := leader
	if rng.Intn(2) == 0 && len(followers) > 0 {
		victim = followers[rng.Intn(len(followers))]
	}
	note := victim.ID()
	if victim == leader {
		note += " (the leader)"
	}
	switch f.Kind {
	case Crash:
		if err := victim.Kill(); err != nil {
			return "", nil, err
		}
		e.set(e.killed, victim.ID(), true)
		return "kill -9 " + note, func(ctx context.Context) error {
			if err := victim.Start(ctx); err != nil {
				return err
			}
			e.set(e.killed, victim.ID(), false)
			return nil
		}, nil
	case Pause:
		if err := victim.Pause(); err != nil {
			return "", nil, err
		}
		e.set(e.paused, victim.ID(), true)
		return "paused " + note, func(context.Context) error {
			if err := victim.Resume(); err != nil {
				return err
			}
			e.set(e.paused, victim.ID(), false)
			return nil
		}, nil
	case Disconnect, IsolateLeader:
		if f.Kind == IsolateLeader {
			victim, note = leader, leader.ID()+" (the leader)"
		}
		if err := victim.Disconnect(); err != nil {
			return "", nil, err
		}
		e.set(e.cut, victim.ID(), true)
		return "disconnected " + note, func(context.Context) error {
			if err := victim.Connect(); err != nil {
				return err
			}
			e.set(e.cut, victim.ID(), false)
			return nil
		}, nil
	case KillAll:
		if err := e.killAll(); err != nil {
			return "", nil, err
		}
		return "kill -9 of every member", e.startAll, nil
	case TransferLeader:
		if len(followers) == 0 {
			return "", nil, errors.New("no healthy follower")
		}
		to := followers[rng.Intn(len(followers))]
		if err := moveLeader(ctx, leader, to); err != nil {
			return "", nil, err
		}
		return "moved leadership from " + leader.ID() + " to " + to.ID(), nil, nil
	}
	return "", nil, fmt.Errorf("%w: %s", ErrUnsupported, f.Kind)
}

func moveLeader(ctx context.Context, from, to Member) error {
	cli, err := newClient([]string{from.ClientAddr()})
	if err != nil {
		return err
	}
	defer cli.Close()
	mctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := cli.MoveLeader(mctx, etcdapi.MemberID(to.ID())); err != nil {
		return fmt.Errorf("move leader %s -> %s: %w", from.ID(), to.ID(), err)
	}
	return nil
}

func (e *External) killAll() error {
	var errs []error
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, m := range e.Members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := m.Kill()
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}()
	}
	wg.Wait()
	e.mu.Lock()
	for _, m := range e.Members {
		e.killed[m.ID()] = true
	}
	e.mu.Unlock()
	return errors.Join(errs...)
}

func (e *External) startAll(ctx context.Context) error {
	for _, m := range e.Members {
		e.mu.Lock()
		dead := e.killed[m.ID()]
		e.mu.Unlock()
		if !dead {
			continue
		}
		if err := m.Start(ctx); err != nil {
			return err
		}
		e.set(e.killed, m.ID(), false)
	}
	return nil
}

// Heal implements Cluster: every member resumed, connected and running,
// all ready, one leader.
func (e *External) Heal(ctx context.Context) error {
	for _, m := range e.Members {
		e.mu.Lock()
		paused, cut := e.paused[m.ID()], e.cut[m.ID()]
		e.mu.Unlock()
		if paused {
			if err := m.Resume(); err != nil {
				return err
			}
			e.set(e.paused, m.ID(), false)
		}
		if cut {
			if err := m.Connect(); err != nil {
				return err
			}
			e.set(e.cut, m.ID(), false)
		}
	}
	if err := e.startAll(ctx); err != nil {
		return err
	}
	for _, m := range e.Members {
		for {
			err := ready(ctx, m)
			if err == nil {
				break
			}
			if pause(ctx, 100*time.Millisecond) != nil {
				return fmt.Errorf("%s: %w", m.ID(), err)
			}
		}
	}
	_, err := e.leader(ctx)
	return err
}

// CrashAll implements Cluster.
func (e *External) CrashAll(ctx context.Context) error {
	if err := e.killAll(); err != nil {
		return err
	}
	return e.Heal(ctx)
}

// WaitLeader waits until a member leads (for tests that set a cluster up).
func (e *External) WaitLeader(ctx context.Context) error {
	_, err := e.leader(ctx)
	return err
}
