package node

import "google.golang.org/grpc"

// forwardGroup is the commands of one received batch, proposed in order.
type forwardGroup struct {
	ids       []uint64
	proposals []*proposal // nil where the command was refused
	refused   []error
}

// serveForward is the leader's end of a Forward stream: it proposes each
// received batch at once and answers each batch when its commands are
// applied. Raft applies in log order, so the groups finish in the order
// they were proposed and one goroutine can wait for them in turn.
func (n *Node) serveForward(stream grpc.ServerStream) error {
	groups := make(chan forwardGroup, 256)
	answered := make(chan error, 1)
	go func() { answered <- n.answerForwards(stream, groups) }()

	var err error
	for {
		var b forwardBatch
		if err = stream.RecvMsg(&b); err != nil {
			break
		}
		groups <- n.proposeForwarded(b.items)
	}
	close(groups)
	if aerr := <-answered; aerr != nil {
		return aerr
	}
	return err
}

func (n *Node) proposeForwarded(items []forwardItem) forwardGroup {
	g := forwardGroup{ids: make([]uint64, len(items)), proposals: make([]*proposal, len(items)), refused: make([]error, len(items))}
	leader := n.IsLeader()
	accepted := make([]*proposal, 0, len(items))
	for i, it := range items {
		g.ids[i] = it.id
		if !leader {
			g.refused[i] = ErrNotLeader
			continue
		}
		if err := checkProposable(it.entry); err != nil {
			g.refused[i] = err
			continue
		}
		p := newProposal(it.entry)
		g.proposals[i] = p
		accepted = append(accepted, p)
	}
	n.proposals.submit(accepted...)
	return g
}

// answerForwards waits for each group's commands and sends their results.
// After a send fails it still drains groups, so serveForward never blocks.
func (n *Node) answerForwards(stream grpc.ServerStream, groups <-chan forwardGroup) error {
	var sendErr error
	for g := range groups {
		res := forwardResults{items: make([]forwardResult, len(g.ids))}
		for i, id := range g.ids {
			r := forwardResult{id: id}
			if err := g.refused[i]; err != nil {
				r.wireErr = toWireErr(err)
			} else {
				out, err := g.proposals[i].wait(stream.Context(), n.stopping)
				r.wireErr, r.index, r.data = toWireErr(err), out.Index, out.Data
			}
			res.items[i] = r
		}
		if sendErr == nil {
			sendErr = stream.SendMsg(&res)
		}
	}
	return sendErr
}
