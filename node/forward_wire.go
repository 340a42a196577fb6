package node

import "fmt"

// forwardBatch carries commands from a follower to the leader on the Forward
// stream; ids are the follower's, unique per stream.
type forwardBatch struct{ items []forwardItem }

type forwardItem struct {
	id    uint64
	entry []byte // an encoded envelope
}

// forwardResults answers commands of a forwardBatch, in any grouping.
type forwardResults struct{ items []forwardResult }

type forwardResult struct {
	id uint64
	wireErr
	index uint64
	data  []byte
}

func (m *forwardBatch) marshal() []byte {
	e := enc{}
	e.u(uint64(len(m.items)))
	for _, it := range m.items {
		e.u(it.id)
		e.by(it.entry)
	}
	return e.b
}

func (m *forwardBatch) unmarshal(b []byte) error {
	d := dec{b: b}
	n, err := itemCount(&d, 2)
	if err != nil {
		return err
	}
	m.items = make([]forwardItem, n)
	for i := range m.items {
		m.items[i] = forwardItem{id: d.u(), entry: d.by()}
	}
	return d.done()
}

func (m *forwardResults) marshal() []byte {
	e := enc{}
	e.u(uint64(len(m.items)))
	for _, r := range m.items {
		e.u(r.id)
		e.werr(r.wireErr)
		e.u(r.index)
		e.by(r.data)
	}
	return e.b
}

func (m *forwardResults) unmarshal(b []byte) error {
	d := dec{b: b}
	n, err := itemCount(&d, 5)
	if err != nil {
		return err
	}
	m.items = make([]forwardResult, n)
	for i := range m.items {
		m.items[i] = forwardResult{id: d.u(), wireErr: d.werr(), index: d.u(), data: d.by()}
	}
	return d.done()
}

// itemCount reads a list length and refuses one that the remaining bytes
// cannot hold at minSize bytes per item, so a forged count cannot make the
// decoder allocate more than the message's size.
func itemCount(d *dec, minSize int) (int, error) {
	n := d.u()
	if d.err != nil {
		return 0, d.err
	}
	if n > uint64(len(d.b)/minSize) {
		return 0, fmt.Errorf("malformed message: %d items in %d bytes", n, len(d.b))
	}
	return int(n), nil
}
