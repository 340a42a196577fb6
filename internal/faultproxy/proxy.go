package faultproxy

import (
	"errors"
	"fmt"
	"math/rand"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Mode is what happens to bytes crossing a blocked link.
type Mode int

// The modes.
const (
	// Pass forwards bytes (no rule).
	Pass Mode = iota
	// Blackhole holds bytes until the link heals.
	Blackhole
	// Reset closes the connection a byte would cross the link on.
	Reset
)

func (m Mode) String() string {
	switch m {
	case Pass:
		return "pass"
	case Blackhole:
		return "blackhole"
	case Reset:
		return "reset"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ErrClosed is returned by Listen after Close.
var ErrClosed = errors.New("faultproxy: network closed")

type link struct{ src, dst string }

// Stats count what the proxies did, for tests to show a fault took effect.
type Stats struct {
	Conns        int64 // connections accepted
	Unidentified int64 // of which the source was not a registered member
	Held         int64 // chunks held by a blackhole (each counted once)
	Resets       int64 // connections closed by a Reset rule
	Lost         int64 // connections closed by SetLoss
	Delayed      int64 // chunks delayed by SetDelay
}

// Delay is the latency SetDelay adds to each chunk on a link: Base plus a
// uniformly random extra in [0, Jitter).
type Delay struct {
	Base, Jitter time.Duration
}

// Network is the proxies of one cluster and the rules between its members.
// Its methods are safe for concurrent use.
type Network struct {
	// Identify names the member that dialed a connection the proxy
	// accepted (remote is the dialer's address, local the proxy's), or ""
	// if it is none of them. Default: by /proc (source_linux.go). Set it
	// before the first Listen.
	Identify func(remote, local net.Addr) string

	mu      sync.Mutex
	rules   map[link]Mode
	loss    map[link]float64
	delay   map[link]Delay
	rng     *rand.Rand    // loss and jitter draws; seeded by Seed
	changed chan struct{} // closed and replaced when the rules change
	pids    map[string]int
	lns     []net.Listener
	pipes   map[*pipe]struct{}
	closed  bool

	conns, unidentified, held, resets, lost, delayed atomic.Int64
}

// New returns a Network with no proxies and no rules.
func New() *Network {
	n := &Network{rules: map[link]Mode{}, loss: map[link]float64{}, delay: map[link]Delay{}, rng: rand.New(rand.NewSource(1)),
		changed: make(chan struct{}), pids: map[string]int{}, pipes: map[*pipe]struct{}{}}
	n.Identify = n.identifyByProc
	return n
}

// SetPID registers the process of member id (again after each restart), so
// that its connections are recognised.
func (n *Network) SetPID(id string, pid int) {
	n.mu.Lock()
	n.pids[id] = pid
	n.mu.Unlock()
}

// Listen starts the proxy of member dst on a free loopback port and returns
// its address, which dst must advertise as its peer address. Each accepted
// connection is forwarded to upstream, dst's real peer address.
func (n *Network) Listen(dst, upstream string) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		ln.Close()
		return "", ErrClosed
	}
	n.lns = append(n.lns, ln)
	n.mu.Unlock()
	go n.serve(ln, dst, upstream)
	return ln.Addr().String(), nil
}

func (n *Network) serve(ln net.Listener, dst, upstream string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go n.forward(c, dst, upstream)
	}
}

// forward connects c to upstream and copies both ways under the rules.
func (n *Network) forward(c net.Conn, dst, upstream string) {
	n.conns.Add(1)
	src := n.Identify(c.RemoteAddr(), c.LocalAddr())
	if src == "" {
		n.unidentified.Add(1)
	}
	up, err := net.DialTimeout("tcp", upstream, 5*time.Second)
	if err != nil {
		c.Close() // dst is down: the dialer sees the connection end
		return
	}
	p := &pipe{a: c, b: up, done: make(chan struct{})}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		p.close()
		return
	}
	n.pipes[p] = struct{}{}
	n.mu.Unlock()
	go n.copy(p, c, up, src, dst) // src's requests
	n.copy(p, up, c, dst, src)    // dst's responses
	n.mu.Lock()
	delete(n.pipes, p)
	n.mu.Unlock()
}

// pipe is one proxied connection: a from the dialer, b to the member.
type pipe struct {
	a, b net.Conn
	once sync.Once
	done chan struct{}
}

func (p *pipe) close() {
	p.once.Do(func() {
		close(p.done)
		p.a.Close()
		p.b.Close()
	})
}

// copy forwards what from sends to `to`, each chunk as bytes from src to
// dst, until either end closes or a Reset rule closes the pipe.
func (n *Network) copy(p *pipe, from, to net.Conn, src, dst string) {
	defer p.close()
	buf := make([]byte, 32<<10)
	for {
		k, err := from.Read(buf)
		readAt := time.Now()
		if k > 0 {
			if !n.admit(p, src, dst) || n.lose(src, dst) || !n.wait(p, src, dst, readAt) {
				return
			}
			if _, werr := to.Write(buf[:k]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// admit waits while src -> dst is blackholed and reports whether the chunk
// may be forwarded (false: Reset, or the pipe closed while held).
func (n *Network) admit(p *pipe, src, dst string) bool {
	counted := false
	for {
		n.mu.Lock()
		m, ch := n.rules[link{src, dst}], n.changed
		n.mu.Unlock()
		if src == "" || dst == "" {
			m = Pass
		}
		switch m {
		case Pass:
			return true
		case Reset:
			n.resets.Add(1)
			return false
		}
		if !counted {
			n.held.Add(1)
			counted = true
		}
		select {
		case <-ch:
		case <-p.done:
			return false
		}
	}
}

// lose draws whether the chunk's connection is lost on a lossy link.
func (n *Network) lose(src, dst string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if p := n.loss[link{src, dst}]; p > 0 && n.rng.Float64() < p {
		n.lost.Add(1)
		return true
	}
	return false
}

// wait delays a chunk read at readAt by the link's delay; false if the
// pipe closed meanwhile.
func (n *Network) wait(p *pipe, src, dst string, readAt time.Time) bool {
	n.mu.Lock()
	d, ok := n.delay[link{src, dst}]
	var extra time.Duration
	if ok && d.Jitter > 0 {
		extra = time.Duration(n.rng.Int63n(int64(d.Jitter)))
	}
	n.mu.Unlock()
	if !ok {
		return true
	}
	n.delayed.Add(1)
	t := time.NewTimer(time.Until(readAt.Add(d.Base + extra)))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-p.done:
		return false
	}
}

// Seed makes the loss and jitter draws a function of seed.
func (n *Network) Seed(seed int64) {
	n.mu.Lock()
	n.rng = rand.New(rand.NewSource(seed))
	n.mu.Unlock()
}

// SetLoss makes each chunk src sends dst close its connection with
// probability p (TCP does not lose a segment without losing the
// connection; this is that loss, as a peer sees it). 0 removes it.
func (n *Network) SetLoss(src, dst string, p float64) {
	n.setRules(func(map[link]Mode) {
		if p <= 0 {
			delete(n.loss, link{src, dst})
		} else {
			n.loss[link{src, dst}] = p
		}
	})
}

// SetDelay delays each chunk src sends dst by d after it was read. The
// chunks of one connection are not overlapped: a delayed link carries at
// most one read (up to 32 KiB) per delay. A zero Delay removes it.
func (n *Network) SetDelay(src, dst string, d Delay) {
	n.setRules(func(map[link]Mode) {
		if d == (Delay{}) {
			delete(n.delay, link{src, dst})
		} else {
			n.delay[link{src, dst}] = d
		}
	})
}

// setRules applies f to the rules under the lock and wakes held chunks.
func (n *Network) setRules(f func(map[link]Mode)) {
	n.mu.Lock()
	f(n.rules)
	close(n.changed)
	n.changed = make(chan struct{})
	n.mu.Unlock()
}

// Block applies mode to every byte src sends to dst (one direction).
// Pass removes the rule.
func (n *Network) Block(src, dst string, mode Mode) {
	n.setRules(func(r map[link]Mode) {
		if mode == Pass {
			delete(r, link{src, dst})
		} else {
			r[link{src, dst}] = mode
		}
	})
}

// Partition blocks both directions between every member of a and every
// member of b. Members in neither side keep their links.
func (n *Network) Partition(a, b []string, mode Mode) {
	n.setRules(func(r map[link]Mode) {
		for _, x := range a {
			for _, y := range b {
				if x != y {
					r[link{x, y}], r[link{y, x}] = mode, mode
				}
			}
		}
	})
}

// Isolate blocks both directions between id and every member in others.
func (n *Network) Isolate(id string, others []string, mode Mode) {
	n.Partition([]string{id}, others, mode)
}

// Heal removes every rule, loss and delay; held bytes flow again.
func (n *Network) Heal() {
	n.setRules(func(r map[link]Mode) {
		clear(r)
		clear(n.loss)
		clear(n.delay)
	})
}

// Rules describes the rules in force, sorted, e.g. "p1->p2 blackhole".
func (n *Network) Rules() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for l, m := range n.rules {
		out = append(out, fmt.Sprintf("%s->%s %s", l.src, l.dst, m))
	}
	for l, p := range n.loss {
		out = append(out, fmt.Sprintf("%s->%s loss %.0f%%", l.src, l.dst, 100*p))
	}
	for l, d := range n.delay {
		out = append(out, fmt.Sprintf("%s->%s delay %s+[0,%s)", l.src, l.dst, d.Base, d.Jitter))
	}
	sort.Strings(out)
	return out
}

// Stats returns the counters.
func (n *Network) Stats() Stats {
	return Stats{Conns: n.conns.Load(), Unidentified: n.unidentified.Load(), Held: n.held.Load(), Resets: n.resets.Load(),
		Lost: n.lost.Load(), Delayed: n.delayed.Load()}
}

// Close stops every proxy and closes every proxied connection.
func (n *Network) Close() {
	n.mu.Lock()
	n.closed = true
	lns := n.lns
	var pipes []*pipe
	for p := range n.pipes {
		pipes = append(pipes, p)
	}
	n.mu.Unlock()
	for _, ln := range lns {
		ln.Close()
	}
	for _, p := range pipes {
		p.close()
	}
}
