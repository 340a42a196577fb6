package server

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// TestOnePortServesHTTPAndGRPC checks that one listener serves REST over
// HTTP/1.1 and gRPC (the health service) side by side, and that Shutdown
// stops both.
func TestOnePortServesHTTPAndGRPC(t *testing.T) {
	s := newTestServer(t, newFakeNode())
	s.SetServing("", true)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	addr := ln.Addr().String()

	resp, err := http.Get("http://" + addr + "/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	var st StatusResponse
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || st.ID != "n1" {
		t.Fatalf("GET /v1/status: %d %+v %v", resp.StatusCode, st, err)
	}

	cc, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hr, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || hr.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("grpc health check: %v %v", hr, err)
	}

	// A connection that sends a short, non-HTTP line still reaches net/http
	// (which answers 400) instead of hanging in the sniffer.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(conn, "PRX\r\n\r\n")
	b, _ := io.ReadAll(conn)
	conn.Close()
	if len(b) < 12 || string(b[:12]) != "HTTP/1.1 400" {
		t.Fatalf("garbage got %q, want an HTTP 400", b)
	}

	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	if err := s.Shutdown(sctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve returned %v after Shutdown, want nil", err)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("port still accepts connections after Shutdown")
	}
}

func TestSniff(t *testing.T) {
	tests := []struct {
		in       string
		wantGRPC bool
		wantRead string
	}{
		{http2Preface + "rest", true, http2Preface},
		{"GET / HTTP/1.1\r\n\r\n", false, "G"},
		{"PRI * HTTP/1.1\r\n", false, "PRI * HTTP/1"},
		{"POST /v1/members HTTP/1.1\r\n", false, "PO"},
	}
	for _, tt := range tests {
		a, b := net.Pipe()
		go func() {
			for i := 0; i < len(tt.in); i++ { // byte by byte: sniff must not need more than it gets
				if _, err := a.Write([]byte{tt.in[i]}); err != nil {
					return
				}
			}
		}()
		isGRPC, read, err := sniff(b)
		a.Close()
		b.Close()
		if err != nil || isGRPC != tt.wantGRPC || string(read) != tt.wantRead {
			t.Errorf("sniff(%q) = %v, %q, %v; want %v, %q", tt.in, isGRPC, read, err, tt.wantGRPC, tt.wantRead)
		}
	}
}
