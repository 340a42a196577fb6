package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// errStreamStopped ends a long-lived gRPC stream when its member shuts
// down: etcd's "etcdserver: server stopped", code Unavailable, which
// clients take as "try another member" (clientv3's watch and keepalive
// loops retry on Unavailable and halt on anything else).
var errStreamStopped = status.Error(codes.Unavailable, "etcdserver: server stopped")

// streamStopper ends the gRPC streams that would otherwise hold a graceful
// shutdown for its whole timeout: watches, lease keepalives and resource
// watches never end on their own, so GracefulStop waited out the 20 s
// every time a client watched, on every restart of a rolling restart.
// Snapshot downloads are finite and are left to finish.
type streamStopper struct {
	stopping chan struct{}
	once     sync.Once
}

func newStreamStopper() *streamStopper {
	return &streamStopper{stopping: make(chan struct{})}
}

// stop ends every stream that intercept wrapped, now and from now on.
func (st *streamStopper) stop() { st.once.Do(func() { close(st.stopping) }) }

func (st *streamStopper) stopped() bool {
	select {
	case <-st.stopping:
		return true
	default:
		return false
	}
}

// intercept is a grpc.StreamServerInterceptor. The handler sees a stream
// whose Context ends and whose RecvMsg fails with errStreamStopped once
// stop is called; a handler that then fails ends the stream with
// errStreamStopped whatever error it returned.
func (st *streamStopper) intercept(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if strings.HasSuffix(info.FullMethod, "/Snapshot") {
		return handler(srv, ss)
	}
	ctx, cancel := context.WithCancel(ss.Context())
	defer cancel()
	go func() {
		select {
		case <-st.stopping:
			cancel()
		case <-ctx.Done():
		}
	}()
	err := handler(srv, &stoppableStream{ServerStream: ss, ctx: ctx, st: st})
	if err != nil && st.stopped() && ss.Context().Err() == nil {
		return errStreamStopped
	}
	return err
}

// stoppableStream is a server stream that stops at shutdown.
type stoppableStream struct {
	grpc.ServerStream
	ctx context.Context
	st  *streamStopper
}

func (s *stoppableStream) Context() context.Context { return s.ctx }

// RecvMsg waits for the client's next message or the shutdown. After the
// shutdown it fails at once without reading: the read it left behind may
// still be blocked on the stream (it ends with the stream, when the
// handler returns), and reads must not overlap.
func (s *stoppableStream) RecvMsg(m any) error {
	if s.st.stopped() {
		return errStreamStopped
	}
	got := make(chan error, 1)
	go func() { got <- s.ServerStream.RecvMsg(m) }()
	select {
	case err := <-got:
		return err
	case <-s.st.stopping:
		return errStreamStopped
	}
}

// ErrServerStopping is the cause of a streaming HTTP request's context
// when its member shuts down (see httpStreams): context.Cause tells it
// from the client going away.
var ErrServerStopping = errors.New("server stopping")

// httpStreams ends streaming HTTP responses at shutdown, as intercept
// ends gRPC streams: http.Server.Shutdown waits for every response to
// finish, and a REST watch (NDJSON) never does. A response becomes a
// stream when its handler first flushes; from then on its request's
// context is cancelled, with cause ErrServerStopping, once stop is
// called. Responses that never flush finish within the grace period as
// before.
func (st *streamStopper) httpStreams(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancelCause(r.Context())
		defer cancel(nil)
		h.ServeHTTP(&stoppableWriter{ResponseWriter: w, st: st, ctx: ctx, cancel: cancel}, r.WithContext(ctx))
	})
}

// stoppableWriter turns its response into a stream that ends at shutdown
// on its first flush.
type stoppableWriter struct {
	http.ResponseWriter
	st        *streamStopper
	ctx       context.Context
	cancel    context.CancelCauseFunc
	streaming bool
}

// FlushError is what http.ResponseController.Flush calls.
func (w *stoppableWriter) FlushError() error {
	if !w.streaming {
		w.streaming = true
		go func() {
			select {
			case <-w.st.stopping:
				w.cancel(ErrServerStopping)
			case <-w.ctx.Done():
			}
		}()
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Flush implements http.Flusher for handlers that assert it.
func (w *stoppableWriter) Flush() { _ = w.FlushError() }

func (w *stoppableWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
