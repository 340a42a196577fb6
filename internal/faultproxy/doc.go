// Package faultproxy puts a fault-injecting TCP proxy in front of each
// member's peer port, so that tests can partition real processes: isolate
// one member, isolate the leader, bridge two halves through one member, or
// lose traffic in one direction only, and heal.
//
// # Design
//
// There is one listener per destination member (Network.Listen). The
// member advertises the proxy's address as its peer address
// (--advertise-peer-addr, and the same address in --initial-cluster), so
// every other member reaches it through the proxy: raft traffic and the
// node's internal RPCs (forwarding, membership) alike. The proxy dials the
// member's real peer port for each connection it accepts.
//
// A listener per destination does not know who dialed it: every member
// dials the same advertised address. The proxy finds out from the kernel
// (source_linux.go): the accepted connection's remote address is the
// dialer's local address, /proc/net/tcp names the socket's inode, and the
// member whose process holds that inode (/proc/PID/fd, with the PIDs the
// test registers through SetPID) is the source. A connection from anyone
// else (a test client, a process not registered) is forwarded with no
// fault. A proxy per (source, destination) pair would need every member to
// dial a different address for the same peer, which the raft configuration
// (one address per member) cannot express.
//
// # Faults
//
// Rules are per direction: Block(src, dst, mode) acts on every byte src
// sends to dst, on connections src dialed (its requests) and on
// connections dst dialed (src's responses). Modes:
//
//   - Blackhole: the bytes are held, as when packets are dropped and TCP
//     keeps retransmitting: the proxy stops reading, the kernel buffers
//     fill, the sender's writes block and its timeouts fire. On Heal the
//     held bytes flow again (late, like a retransmission after the
//     partition ends) unless an end closed the connection meanwhile.
//   - Reset: a byte that would cross the link closes its connection (as an
//     iptables REJECT with tcp-reset would), so the sender sees an error at
//     once and redials.
//
// SetLoss(src, dst, p) closes a connection at a chunk src sends dst with
// probability p (a peer sees loss on TCP as a broken connection), and
// SetDelay(src, dst, d) makes each such chunk wait d after it was read;
// the draws come from one generator seeded by Seed.
//
// Heal removes every rule, loss and delay. Rules are read at each chunk, so a change
// applies at once to connections already open.
package faultproxy
