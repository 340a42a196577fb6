// Package kv is the MVCC key-value state machine with etcd v3 semantics.
package kv
