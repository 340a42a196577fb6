package testcluster

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/concord-db/concord/node"
)

// Errors a faulty link reports to the node using it.
var (
	ErrLinkCut = errors.New("testcluster: link cut by partition")
	ErrDropped = errors.New("testcluster: message dropped")
)

// Any matches every node in SetDrop and SetDelay.
const Any = "*"

type link struct{ from, to string }

// Delay is the latency added to every write on a link: Base plus a uniformly
// random extra in [0, Jitter).
type Delay struct {
	Base, Jitter time.Duration
}

// Network is an in-process fabric of TCP loopback links between nodes that
// can cut, drop and delay traffic per directed link. Each node reaches it
// through its own Endpoint, which knows the node's id: a connection is
// wrapped on the dialing side, so the wrapper sees both directions of the
// link (its writes travel dialer->listener, its reads listener->dialer).
//
// Randomness (drops, jitter) comes from one *rand.Rand seeded by the
// caller, so a failing run can be replayed with the same seed (timing still
// varies).
type Network struct {
	mu     sync.Mutex
	rng    *rand.Rand
	addrs  map[string]string // peer address -> node id
	cut    map[link]bool
	drop   map[link]float64
	delay  map[link]Delay
	conns  map[*faultConn]struct{}
	listen map[string]net.Listener // listeners opened ahead of node.New
}

// NewNetwork returns a fabric with no faults.
func NewNetwork(seed int64) *Network {
	return &Network{
		rng:    rand.New(rand.NewSource(seed)),
		addrs:  map[string]string{},
		cut:    map[link]bool{},
		drop:   map[link]float64{},
		delay:  map[link]Delay{},
		conns:  map[*faultConn]struct{}{},
		listen: map[string]net.Listener{},
	}
}

// Endpoint returns the node.Network of node id.
func (nw *Network) Endpoint(id string) node.Network { return &endpoint{nw: nw, id: id} }

// Reserve opens a loopback listener for id now (so its address is known
// before the node exists) and hands it to the node's first Listen on that
// address.
func (nw *Network) Reserve(id string) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	nw.mu.Lock()
	nw.listen[addr] = ln
	nw.addrs[addr] = id
	nw.mu.Unlock()
	return addr, nil
}

// Cut cuts the directed link from -> to. A connection carries both
// directions, so every connection between the two is closed.
func (nw *Network) Cut(from, to string) {
	nw.mu.Lock()
	nw.cut[link{from, to}] = true
	nw.mu.Unlock()
	nw.closeWhere(func(c *faultConn) bool { return c.between(from, to) })
}

// Partition cuts every link between nodes of different groups, both ways.
// Nodes in no group keep their links.
func (nw *Network) Partition(groups ...[]string) {
	group := map[string]int{}
	for i, g := range groups {
		for _, id := range g {
			group[id] = i
		}
	}
	nw.mu.Lock()
	for a, ga := range group {
		for b, gb := range group {
			if ga != gb {
				nw.cut[link{a, b}] = true
			}
		}
	}
	nw.mu.Unlock()
	nw.closeWhere(func(c *faultConn) bool {
		ga, oka := group[c.src]
		gb, okb := group[c.dst]
		return oka && okb && ga != gb
	})
}

// Isolate cuts id off from every other node, both ways.
func (nw *Network) Isolate(id string) {
	nw.mu.Lock()
	nw.cut[link{id, Any}] = true
	nw.cut[link{Any, id}] = true
	nw.mu.Unlock()
	nw.closeWhere(func(c *faultConn) bool { return c.src == id || c.dst == id })
}

// Heal removes every fault: cuts, drops and delays.
func (nw *Network) Heal() {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	clear(nw.cut)
	clear(nw.drop)
	clear(nw.delay)
}

// SetDrop makes each write (and each read) on the directed link from -> to
// fail with probability p, closing its connection: the message and whatever
// follows it on that stream are lost. from or to may be Any. p = 0 removes it.
func (nw *Network) SetDrop(from, to string, p float64) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	if p <= 0 {
		delete(nw.drop, link{from, to})
		return
	}
	nw.drop[link{from, to}] = p
}

// SetDelay adds latency to every message on the directed link from -> to.
// from or to may be Any. A zero Delay removes it.
func (nw *Network) SetDelay(from, to string, d Delay) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	if d == (Delay{}) {
		delete(nw.delay, link{from, to})
		return
	}
	nw.delay[link{from, to}] = d
}

// CloseConns closes every connection from or to id, as a process death does.
func (nw *Network) CloseConns(id string) {
	nw.closeWhere(func(c *faultConn) bool { return c.src == id || c.dst == id })
}

func (nw *Network) closeWhere(match func(*faultConn) bool) {
	nw.mu.Lock()
	var victims []*faultConn
	for c := range nw.conns {
		if match(c) {
			victims = append(victims, c)
		}
	}
	nw.mu.Unlock()
	for _, c := range victims {
		c.Close()
	}
}

// lookup returns the most specific setting for a link.
func lookup[V any](m map[link]V, from, to string) (V, bool) {
	for _, l := range [...]link{{from, to}, {from, Any}, {Any, to}, {Any, Any}} {
		if v, ok := m[l]; ok {
			return v, true
		}
	}
	var zero V
	return zero, false
}

func (nw *Network) isCutLocked(from, to string) bool {
	_, ok := lookup(nw.cut, from, to)
	return ok
}

// transit decides the fate of one message on from -> to: an error if it is
// cut or dropped, else how long it is delayed.
func (nw *Network) transit(from, to string) (time.Duration, error) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	if nw.isCutLocked(from, to) {
		return 0, fmt.Errorf("%s -> %s: %w", from, to, ErrLinkCut)
	}
	if p, ok := lookup(nw.drop, from, to); ok && nw.rng.Float64() < p {
		return 0, fmt.Errorf("%s -> %s: %w", from, to, ErrDropped)
	}
	d, ok := lookup(nw.delay, from, to)
	if !ok {
		return 0, nil
	}
	wait := d.Base
	if d.Jitter > 0 {
		wait += time.Duration(nw.rng.Int63n(int64(d.Jitter)))
	}
	return wait, nil
}

// endpoint is one node's view of the Network.
type endpoint struct {
	nw *Network
	id string
}

// Listen implements node.Network. It hands over a reserved listener, or
// binds addr, retrying briefly while a restarted node's old port is still
// in use.
func (e *endpoint) Listen(addr string) (net.Listener, error) {
	e.nw.mu.Lock()
	ln := e.nw.listen[addr]
	delete(e.nw.listen, addr)
	e.nw.mu.Unlock()
	if ln == nil {
		deadline := time.Now().Add(10 * time.Second)
		var err error
		for {
			ln, err = net.Listen("tcp", addr)
			if err == nil || !errors.Is(err, syscall.EADDRINUSE) || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil {
			return nil, err
		}
	}
	e.nw.mu.Lock()
	e.nw.addrs[ln.Addr().String()] = e.id
	e.nw.mu.Unlock()
	return ln, nil
}

// Dial implements node.Network.
func (e *endpoint) Dial(ctx context.Context, addr string) (net.Conn, error) {
	nw := e.nw
	nw.mu.Lock()
	dst := nw.addrs[addr]
	cut := nw.isCutLocked(e.id, dst) || nw.isCutLocked(dst, e.id)
	nw.mu.Unlock()
	if cut {
		return nil, fmt.Errorf("dial %s (%s -> %s): %w", addr, e.id, dst, ErrLinkCut)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	fc := &faultConn{Conn: conn, nw: nw, src: e.id, dst: dst, closed: make(chan struct{})}
	nw.mu.Lock()
	cut = nw.isCutLocked(e.id, dst) || nw.isCutLocked(dst, e.id)
	if !cut {
		nw.conns[fc] = struct{}{}
	}
	nw.mu.Unlock()
	if cut { // a partition came while dialing
		conn.Close()
		return nil, fmt.Errorf("dial %s (%s -> %s): %w", addr, e.id, dst, ErrLinkCut)
	}
	return fc, nil
}

// faultConn is the dialing side of a connection from src to dst.
type faultConn struct {
	net.Conn
	nw       *Network
	src, dst string
	once     sync.Once
	closed   chan struct{}
}

func (c *faultConn) between(a, b string) bool {
	return (c.src == a && c.dst == b) || (c.src == b && c.dst == a)
}

// Write carries a message src -> dst.
func (c *faultConn) Write(p []byte) (int, error) {
	if err := c.pass(c.src, c.dst); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// Read receives a message dst -> src.
func (c *faultConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		if ferr := c.pass(c.dst, c.src); ferr != nil {
			return 0, ferr
		}
	}
	return n, err
}

// pass applies the link's faults to one message, closing the connection
// if the message is lost.
func (c *faultConn) pass(from, to string) error {
	wait, err := c.nw.transit(from, to)
	if err != nil {
		c.Close()
		return err
	}
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-c.closed:
			return net.ErrClosed
		}
	}
	return nil
}

func (c *faultConn) Close() error {
	var err error
	c.once.Do(func() {
		close(c.closed)
		c.nw.mu.Lock()
		delete(c.nw.conns, c)
		c.nw.mu.Unlock()
		err = c.Conn.Close()
	})
	return err
}
