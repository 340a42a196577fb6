package faultproxy

import (
	"io"
	"net"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"
)

// echoServer is a destination member: it reports every chunk it receives
// on got and echoes it back.
func echoServer(t *testing.T) (addr string, got chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got = make(chan string, 100)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 1024)
				for {
					k, err := c.Read(buf)
					if k > 0 {
						got <- string(buf[:k])
						c.Write(buf[:k])
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), got
}

// byLoopbackIP names the source by the dialer's loopback address:
// 127.0.0.2 is "a", 127.0.0.3 is "b".
func byLoopbackIP(remote, _ net.Addr) string {
	switch remote.(*net.TCPAddr).IP.String() {
	case "127.0.0.2":
		return "a"
	case "127.0.0.3":
		return "b"
	}
	return ""
}

func dialFrom(t *testing.T, ip, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func newTestNetwork(t *testing.T) (*Network, string, chan string) {
	t.Helper()
	up, got := echoServer(t)
	n := New()
	n.Identify = byLoopbackIP
	t.Cleanup(n.Close)
	addr, err := n.Listen("d", up)
	if err != nil {
		t.Fatal(err)
	}
	return n, addr, got
}

func expect(t *testing.T, ch chan string, want string) {
	t.Helper()
	select {
	case s := <-ch:
		if s != want {
			t.Fatalf("got %q, want %q", s, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%q did not arrive", want)
	}
}

// expectNothing checks that nothing arrives for a while: the fault holds.
func expectNothing(t *testing.T, ch chan string, what string) {
	t.Helper()
	select {
	case s := <-ch:
		t.Fatalf("%s: %q arrived through a blocked link", what, s)
	case <-time.After(300 * time.Millisecond):
	}
}

// reader turns a connection's reads into a channel of chunks.
func reader(c net.Conn) chan string {
	ch := make(chan string, 100)
	go func() {
		defer close(ch)
		buf := make([]byte, 1024)
		for {
			k, err := c.Read(buf)
			if k > 0 {
				ch <- string(buf[:k])
			}
			if err != nil {
				return
			}
		}
	}()
	return ch
}

func TestPassWithoutRules(t *testing.T) {
	_, addr, got := newTestNetwork(t)
	c := dialFrom(t, "127.0.0.2", addr)
	echo := reader(c)
	c.Write([]byte("hello"))
	expect(t, got, "hello")
	expect(t, echo, "hello")
}

// A blackhole holds the bytes src sends, on connections src dialed, and
// delivers them once healed; the other source is not affected.
func TestBlackholeHoldsThenDelivers(t *testing.T) {
	n, addr, got := newTestNetwork(t)
	n.Block("a", "d", Blackhole)
	a := dialFrom(t, "127.0.0.2", addr)
	aEcho := reader(a)
	a.Write([]byte("from-a"))
	expectNothing(t, got, "a->d blackholed")
	b := dialFrom(t, "127.0.0.3", addr)
	b.Write([]byte("from-b"))
	expect(t, got, "from-b")
	if st := n.Stats(); st.Held != 1 || st.Unidentified != 0 {
		t.Fatalf("stats %+v, want one held chunk and every source identified", st)
	}
	n.Heal()
	expect(t, got, "from-a")
	expect(t, aEcho, "from-a")
}

// One-way loss: d -> a blocked lets a's request through but holds d's
// response on the connection a dialed.
func TestOneWayBlocksResponses(t *testing.T) {
	n, addr, got := newTestNetwork(t)
	n.Block("d", "a", Blackhole)
	a := dialFrom(t, "127.0.0.2", addr)
	echo := reader(a)
	a.Write([]byte("req"))
	expect(t, got, "req")
	expectNothing(t, echo, "d->a blackholed")
	n.Block("d", "a", Pass)
	expect(t, echo, "req")
}

// Reset closes a connection as soon as a byte would cross the link, even
// one opened before the rule.
func TestResetClosesConnection(t *testing.T) {
	n, addr, got := newTestNetwork(t)
	a := dialFrom(t, "127.0.0.2", addr)
	echo := reader(a)
	a.Write([]byte("before"))
	expect(t, got, "before")
	expect(t, echo, "before")
	n.Block("a", "d", Reset)
	a.Write([]byte("after"))
	select {
	case s, ok := <-echo:
		if ok {
			t.Fatalf("got %q through a reset link", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the connection was not closed")
	}
	if st := n.Stats(); st.Resets != 1 {
		t.Fatalf("stats %+v, want one reset", st)
	}
	b := dialFrom(t, "127.0.0.3", addr)
	b.Write([]byte("b-ok"))
	expect(t, got, "b-ok")
}

func TestPartitionIsolateRules(t *testing.T) {
	n := New()
	defer n.Close()
	n.Partition([]string{"p1", "p2"}, []string{"p3"}, Blackhole)
	n.Block("p2", "p1", Reset)
	want := []string{"p1->p3 blackhole", "p2->p1 reset", "p2->p3 blackhole", "p3->p1 blackhole", "p3->p2 blackhole"}
	if got := n.Rules(); !slices.Equal(got, want) {
		t.Fatalf("rules %v, want %v", got, want)
	}
	n.Heal()
	n.Isolate("p1", []string{"p2", "p3"}, Reset)
	want = []string{"p1->p2 reset", "p1->p3 reset", "p2->p1 reset", "p3->p1 reset"}
	if got := n.Rules(); !slices.Equal(got, want) {
		t.Fatalf("rules %v, want %v", got, want)
	}
}

// Close ends held connections (no goroutine stays blocked on a rule).
func TestCloseEndsHeldConnections(t *testing.T) {
	n, addr, _ := newTestNetwork(t)
	n.Block("a", "d", Blackhole)
	a := dialFrom(t, "127.0.0.2", addr)
	echo := reader(a)
	a.Write([]byte("held"))
	deadline := time.Now().Add(10 * time.Second)
	for n.Stats().Held == 0 && time.Now().Before(deadline) {
		runtime.Gosched()
		time.Sleep(5 * time.Millisecond)
	}
	n.Close()
	select {
	case _, ok := <-echo:
		if ok {
			t.Fatal("held bytes delivered after Close")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close left the connection open")
	}
	if _, err := n.Listen("x", addr); err != ErrClosed {
		t.Fatalf("Listen after Close: %v, want ErrClosed", err)
	}
}

// The default identification finds the process holding the dialing
// socket: this test's own, registered as member "me".
func TestIdentifyByProc(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("source identification by /proc is Linux only")
	}
	up, got := echoServer(t)
	n := New()
	defer n.Close()
	addr, err := n.Listen("d", up)
	if err != nil {
		t.Fatal(err)
	}
	// Not registered yet: unidentified, passes.
	c1, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	c1.Write([]byte("anon"))
	expect(t, got, "anon")
	if st := n.Stats(); st.Unidentified != 1 {
		t.Fatalf("stats %+v, want the unregistered dialer unidentified", st)
	}
	n.SetPID("me", os.Getpid())
	n.Block("me", "d", Reset)
	c2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.Write([]byte("x"))
	c2.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(c2); err != nil {
		t.Fatalf("read: %v, want the connection closed by the reset", err)
	}
	if st := n.Stats(); st.Unidentified != 1 || st.Resets != 1 {
		t.Fatalf("stats %+v, want the registered dialer identified as me and reset", st)
	}
}

// Loss closes a connection at a lost chunk; p = 0 (or Heal) removes it.
func TestLossClosesConnection(t *testing.T) {
	n, addr, got := newTestNetwork(t)
	n.Seed(7)
	n.SetLoss("a", "d", 1)
	a := dialFrom(t, "127.0.0.2", addr)
	echo := reader(a)
	a.Write([]byte("lost"))
	select {
	case s, ok := <-echo:
		if ok {
			t.Fatalf("got %q through a link losing everything", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the connection was not closed")
	}
	if st := n.Stats(); st.Lost != 1 {
		t.Fatalf("stats %+v, want one lost connection", st)
	}
	if r := n.Rules(); !slices.Equal(r, []string{"a->d loss 100%"}) {
		t.Fatalf("rules %v", r)
	}
	n.Heal()
	a2 := dialFrom(t, "127.0.0.2", addr)
	a2.Write([]byte("kept"))
	expect(t, got, "kept")
}

// Delay holds each chunk at least its base delay, one way only.
func TestDelayHoldsChunks(t *testing.T) {
	n, addr, got := newTestNetwork(t)
	const base = 300 * time.Millisecond
	n.SetDelay("d", "a", Delay{Base: base, Jitter: 50 * time.Millisecond})
	a := dialFrom(t, "127.0.0.2", addr)
	echo := reader(a)
	start := time.Now()
	a.Write([]byte("slow"))
	expect(t, got, "slow") // a -> d is not delayed
	expect(t, echo, "slow")
	if e := time.Since(start); e < base {
		t.Fatalf("the echo came back after %s, before the %s delay", e, base)
	}
	if st := n.Stats(); st.Delayed != 1 {
		t.Fatalf("stats %+v, want one delayed chunk", st)
	}
}
