package testcluster

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// echoPair returns a connection dialed by a to b through the network, whose
// far end echoes everything back.
func echoPair(t *testing.T, nw *Network) net.Conn {
	t.Helper()
	addr, err := nw.Reserve("b")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := nw.Endpoint("b").Listen(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go io.Copy(c, c)
		}
	}()
	c, err := nw.Endpoint("a").Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func roundTrip(c net.Conn) error {
	if _, err := c.Write([]byte("x")); err != nil {
		return err
	}
	var b [1]byte
	_, err := io.ReadFull(c, b[:])
	return err
}

func TestNetworkPartitionAndHeal(t *testing.T) {
	nw := NewNetwork(1)
	c := echoPair(t, nw)
	if err := roundTrip(c); err != nil {
		t.Fatal(err)
	}
	nw.Partition([]string{"a"}, []string{"b"})
	if err := roundTrip(c); err == nil {
		t.Fatal("round trip across a partition succeeded")
	}
	addr := c.RemoteAddr().String()
	if _, err := nw.Endpoint("a").Dial(context.Background(), addr); !errors.Is(err, ErrLinkCut) {
		t.Fatalf("dial across a partition: %v, want ErrLinkCut", err)
	}
	nw.Heal()
	c2, err := nw.Endpoint("a").Dial(context.Background(), addr)
	if err != nil {
		t.Fatalf("dial after heal: %v", err)
	}
	defer c2.Close()
	if err := roundTrip(c2); err != nil {
		t.Fatalf("round trip after heal: %v", err)
	}
}

func TestNetworkOneWayCutAndIsolate(t *testing.T) {
	nw := NewNetwork(1)
	c := echoPair(t, nw)
	nw.Cut("b", "a") // replies are lost
	if err := roundTrip(c); err == nil {
		t.Fatal("round trip with the reply direction cut succeeded")
	}
	nw.Heal()
	nw.Isolate("b")
	if _, err := nw.Endpoint("a").Dial(context.Background(), c.RemoteAddr().String()); !errors.Is(err, ErrLinkCut) {
		t.Fatalf("dial to an isolated node: %v, want ErrLinkCut", err)
	}
}

func TestNetworkDropAndDelay(t *testing.T) {
	nw := NewNetwork(1)
	c := echoPair(t, nw)
	nw.SetDrop("a", Any, 1)
	if _, err := c.Write([]byte("x")); !errors.Is(err, ErrDropped) {
		t.Fatalf("write with drop probability 1: %v, want ErrDropped", err)
	}
	if _, err := c.Write([]byte("x")); err == nil {
		t.Fatal("a dropped message did not close its connection")
	}
	nw.SetDrop("a", Any, 0)

	c2 := echoPair(t, nw)
	const d = 50 * time.Millisecond
	nw.SetDelay(Any, Any, Delay{Base: d})
	start := time.Now()
	if err := roundTrip(c2); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 2*d {
		t.Fatalf("round trip with %s each way took %s", d, took)
	}
}
