package server

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// TestWriteGuard: a connection whose client reads nothing fails its write
// after the timeout (net/http then ends the handler and closes it); one
// whose client keeps reading is never cut, however long the transfer.
func TestWriteGuard(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const timeout = 300 * time.Millisecond
	gl := writeGuardListener{ln, timeout}
	chunk := []byte(strings.Repeat("x", 64<<10))

	t.Run("client reads nothing", func(t *testing.T) {
		client, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		client.(*net.TCPConn).SetReadBuffer(4 << 10)
		srv, err := gl.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		done := make(chan error, 1)
		go func() {
			for {
				if _, err := srv.Write(chunk); err != nil {
					done <- err
					return
				}
			}
		}()
		select {
		case err := <-done:
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("write to a client reading nothing: %v, want a deadline error", err)
			}
		case <-time.After(time.Minute):
			t.Fatal("a write to a client reading nothing never failed")
		}
	})

	t.Run("client keeps reading", func(t *testing.T) {
		client, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		srv, err := gl.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		// 64 MiB, more than any socket buffer, each write under the timeout
		// because the client reads as it comes.
		go io.Copy(io.Discard, client)
		for i := range 1024 {
			if _, err := srv.Write(chunk); err != nil {
				t.Fatalf("write %d to a reading client: %v", i, err)
			}
		}
	})
}

type fakeTLSConn struct{ net.Conn }

func (fakeTLSConn) ConnectionState() tls.ConnectionState {
	return tls.ConnectionState{ServerName: "x"}
}

// A guarded TLS connection keeps exposing its TLS state to handlers.
func TestWriteGuardKeepsTLSState(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	g := guardWrites(fakeTLSConn{a}, time.Second)
	ts, ok := g.(tlsStater)
	if !ok || ts.ConnectionState().ServerName != "x" {
		t.Fatalf("guarded TLS connection %T lost its state", g)
	}
	if _, ok := guardWrites(a, time.Second).(tlsStater); ok {
		t.Fatal("a plain connection claims TLS")
	}
	if guardWrites(a, 0) != a {
		t.Fatal("timeout 0 should leave the connection as it is")
	}
}
