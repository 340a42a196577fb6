package resourceapi

import (
	"bytes"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/consul/proto-public/pbresource"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"github.com/concord-db/concord/resource"
)

// Many watchers asking for the same event get the same bytes from one
// encoding; a different event (or wire) is encoded on its own.
func TestEventCacheEncodesOnce(t *testing.T) {
	c := newEventCache()
	res := &pbresource.Resource{Id: &pbresource.ID{Name: "a"}}
	ev := resource.Event{Kind: resource.Upsert, Resource: res, Version: 7}
	var calls atomic.Int32
	enc := func(ev resource.Event) ([]byte, error) {
		calls.Add(1)
		return marshalWatchEvent(ev)
	}
	var wg sync.WaitGroup
	got := make([][]byte, 50)
	for i := range got {
		wg.Go(func() {
			b, err := c.get(ev, wireGRPC, enc)
			if err != nil {
				t.Error(err)
			}
			got[i] = b
		})
	}
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d encodings of one event, want 1", n)
	}
	want, _ := marshalWatchEvent(ev)
	for _, b := range got {
		if !bytes.Equal(b, want) {
			t.Fatal("cached encoding differs from marshalWatchEvent")
		}
	}
	if _, err := c.get(resource.Event{Kind: resource.Delete, Resource: res, Version: 8}, wireGRPC, enc); err != nil || calls.Load() != 2 {
		t.Fatalf("another event: %v, %d encodings, want 2", err, calls.Load())
	}
	if _, err := c.get(ev, wireREST, marshalWatchLine); err != nil || calls.Load() != 2 {
		t.Fatalf("the REST wire: %v", err)
	}
	// Eviction: after eventCacheSize other events the first is encoded again.
	for v := range uint64(eventCacheSize) {
		c.get(resource.Event{Kind: resource.EndOfSnapshot, Version: 100 + v}, wireGRPC, marshalWatchEvent)
	}
	if len(c.m) != eventCacheSize {
		t.Fatalf("cache holds %d, want %d", len(c.m), eventCacheSize)
	}
	c.get(ev, wireGRPC, enc)
	if calls.Load() != 3 {
		t.Fatalf("evicted event not re-encoded: %d encodings", calls.Load())
	}
}

// The registered proto codec passes an encodedMsg's bytes through and is
// grpc-go's proto codec for everything else.
func TestPassCodec(t *testing.T) {
	c := encoding.GetCodecV2("proto")
	if _, ok := c.(passCodec); !ok {
		t.Fatalf("registered proto codec is %T, want passCodec", c)
	}
	raw := []byte{1, 2, 3}
	out, err := c.Marshal(&encodedMsg{b: raw})
	if err != nil || !bytes.Equal(out.Materialize(), raw) {
		t.Fatalf("encodedMsg: %v %v", out.Materialize(), err)
	}
	msg := &pbresource.ReadRequest{Id: &pbresource.ID{Name: "n", Uid: "u"}}
	out, err = c.Marshal(msg)
	want, _ := proto.Marshal(msg)
	if err != nil || !bytes.Equal(out.Materialize(), want) {
		t.Fatalf("proto message: %v", err)
	}
	var back pbresource.ReadRequest
	if err := c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(want)}, &back); err != nil || !proto.Equal(&back, msg) {
		t.Fatalf("unmarshal: %v", err)
	}
	if c.Name() != "proto" {
		t.Fatalf("name %q", c.Name())
	}
}
