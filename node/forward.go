package node

import (
	"context"
	"fmt"
	"sync"

	"google.golang.org/grpc"
)

// A follower forwards commands to the leader over one long-lived gRPC stream
// per leader address rather than one unary call each: the commands that
// queue up while a message is being sent go out together in the next one,
// and answers come back batched too. Under load this removes most of the
// per-command HTTP/2 stream setup and framing that a unary call costs on
// both nodes.

var forwardStreamDesc = grpc.StreamDesc{StreamName: "Forward", ServerStreams: true, ClientStreams: true}

// forwarder keeps the open forward streams of a node.
type forwarder struct {
	peers *peerClients

	mu      sync.Mutex
	streams map[string]*forwardStream // by leader peer address
}

func newForwarder(peers *peerClients) *forwarder {
	return &forwarder{peers: peers, streams: map[string]*forwardStream{}}
}

// apply sends entry to the leader at addr and waits for its answer. An error
// means the outcome is unknown: the command may have been committed.
func (f *forwarder) apply(ctx context.Context, addr string, entry []byte) (forwardResult, error) {
	s, err := f.stream(addr)
	if err != nil {
		return forwardResult{}, err
	}
	return s.apply(ctx, entry)
}

// stream returns the open stream to addr, opening one if there is none or
// the last one broke.
func (f *forwarder) stream(addr string) (*forwardStream, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s := f.streams[addr]; s != nil && !s.isBroken() {
		return s, nil
	}
	cc, err := f.peers.get(addr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	cs, err := cc.NewStream(ctx, &forwardStreamDesc, "/"+peerService+"/Forward")
	if err != nil {
		cancel()
		return nil, err
	}
	s := &forwardStream{
		stream:  cs,
		cancel:  cancel,
		pending: map[uint64]chan forwardResult{},
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
	go s.sendLoop()
	go s.recvLoop()
	f.streams[addr] = s
	return s, nil
}

// close breaks every stream: their waiting commands end with an unknown
// outcome.
func (f *forwarder) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for addr, s := range f.streams {
		s.fail(ErrShutdown)
		delete(f.streams, addr)
	}
}

// forwardStream is one Forward stream to a leader.
type forwardStream struct {
	stream grpc.ClientStream
	cancel context.CancelFunc

	mu      sync.Mutex
	nextID  uint64
	queue   []forwardItem                 // not sent yet
	pending map[uint64]chan forwardResult // sent or queued, not answered
	broken  error

	wake chan struct{} // the queue is not empty
	done chan struct{} // closed when broken
}

func (s *forwardStream) isBroken() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.broken != nil
}

func (s *forwardStream) apply(ctx context.Context, entry []byte) (forwardResult, error) {
	ch := make(chan forwardResult, 1)
	s.mu.Lock()
	if s.broken != nil {
		err := s.broken
		s.mu.Unlock()
		return forwardResult{}, err
	}
	s.nextID++
	id := s.nextID
	s.pending[id] = ch
	s.queue = append(s.queue, forwardItem{id: id, entry: entry})
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}

	select {
	case r := <-ch:
		return r, nil
	case <-s.done:
		select {
		case r := <-ch: // answered just before the stream broke
			return r, nil
		default:
		}
		return forwardResult{}, s.err()
	case <-ctx.Done():
		s.mu.Lock()
		delete(s.pending, id)
		s.mu.Unlock()
		return forwardResult{}, ctx.Err()
	}
}

func (s *forwardStream) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.broken
}

// sendLoop sends everything queued as one message, again and again.
func (s *forwardStream) sendLoop() {
	for {
		select {
		case <-s.wake:
		case <-s.done:
			return
		}
		s.mu.Lock()
		batch := takeBatch(&s.queue, maxForwardBatchBytes)
		more := len(s.queue) > 0
		s.mu.Unlock()
		if more {
			select {
			case s.wake <- struct{}{}:
			default:
			}
		}
		if len(batch) == 0 {
			continue
		}
		if err := s.stream.SendMsg(&forwardBatch{items: batch}); err != nil {
			s.fail(fmt.Errorf("send: %w", err))
			return
		}
	}
}

// maxForwardBatchBytes bounds the entries of one forwardBatch, well below
// the peer RPC's 64 MiB message limit.
const maxForwardBatchBytes = 4 << 20

// takeBatch removes from the front of queue the items to send in one
// message: at least one, and no more than maxBytes of entries after it.
func takeBatch(queue *[]forwardItem, maxBytes int) []forwardItem {
	q := *queue
	n, size := 0, 0
	for n < len(q) && (n == 0 || size+len(q[n].entry) <= maxBytes) {
		size += len(q[n].entry)
		n++
	}
	batch := q[:n:n]
	if n == len(q) {
		*queue = nil
	} else {
		*queue = q[n:]
	}
	return batch
}

// recvLoop hands each answer to the command waiting for it.
func (s *forwardStream) recvLoop() {
	for {
		var res forwardResults
		if err := s.stream.RecvMsg(&res); err != nil {
			s.fail(fmt.Errorf("receive: %w", err))
			return
		}
		s.mu.Lock()
		for _, r := range res.items {
			if ch, ok := s.pending[r.id]; ok {
				delete(s.pending, r.id)
				ch <- r
			}
		}
		s.mu.Unlock()
	}
}

// fail breaks the stream once: every command not answered yet gets err.
func (s *forwardStream) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken != nil {
		return
	}
	s.broken = err
	s.pending, s.queue = nil, nil
	close(s.done)
	s.cancel()
}
