// Package testcluster runs clusters of node.Node in one process for tests:
// each node on its own data dir and loopback port, all on a Network that can
// partition, drop and delay links, with crash, restart, graceful stop and
// join of nodes, and helpers that wait on conditions with deadlines.
//
//	c := testcluster.New(t, testcluster.Options{Nodes: 3})
//	leader := c.WaitLeader(t, 10*time.Second)
//	c.MustApply(t, "n2", "x") // forwarded to the leader
//	c.Isolate(leader)
//	...
//	c.Heal()
//	c.EnsureSame(t) // every node applied the same commands
//
// Every node registers a LogSM under node.TypeUser, which records the
// commands it applied. Logs go to t.Log (see NewLogger).
package testcluster
