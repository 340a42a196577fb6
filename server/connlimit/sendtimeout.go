package connlimit

import (
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// SendTimeout returns a stream interceptor that drops a stream whose client
// stopped reading: once one send has waited longer than timeout (the
// client's HTTP/2 window and the stream's send buffer are full), the
// stream ends with ResourceExhausted. Ending it cancels the stream's
// context, so the blocked send fails and the handler returns, releasing
// what it holds (an etcd watch stream its watchers and their queues, a
// resource watch its buffer). A client that reads slowly but keeps
// reading is never dropped. timeout <= 0 disables the check.
//
// The handler runs in a goroutine of its own, watched every timeout/4.
func SendTimeout(timeout time.Duration) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		if timeout <= 0 {
			return h(srv, ss)
		}
		g := &timedStream{ServerStream: ss}
		done := make(chan error, 1)
		go func() { done <- h(srv, g) }()
		t := time.NewTicker(max(timeout/4, time.Millisecond))
		defer t.Stop()
		for {
			select {
			case err := <-done:
				return err
			case <-t.C:
				if g.blockedFor() > timeout {
					return SlowClientError(timeout)
				}
			}
		}
	}
}

// SlowClientError is the status of a stream dropped by SendTimeout.
func SlowClientError(timeout time.Duration) error {
	return status.Errorf(codes.ResourceExhausted,
		"etcdserver: stream dropped: the client read nothing for %s (slow client, --client-send-timeout)", timeout)
}

// timedStream records when the send in progress began.
type timedStream struct {
	grpc.ServerStream
	// since is when the send in progress began (nanoseconds on the
	// monotonic clock since epoch, plus one), 0 between sends.
	since atomic.Int64
}

var epoch = time.Now()

func monoNow() int64 { return int64(time.Since(epoch)) + 1 }

func (s *timedStream) SendMsg(m any) error {
	s.since.Store(monoNow())
	defer s.since.Store(0)
	return s.ServerStream.SendMsg(m)
}

// blockedFor is how long the send in progress has waited, 0 if none.
func (s *timedStream) blockedFor() time.Duration {
	since := s.since.Load()
	if since == 0 {
		return 0
	}
	return time.Duration(monoNow() - since)
}
