// Package resource stores Consul's typed resources (pbresource.Resource) as a
// concord state machine registered under node.TypeResource.
//
// It is its own state machine rather than a view over the kv keyspace because
// uid, version and generation rules must be applied atomically with the write,
// it needs an owner index and a bounded watch history of its own, and keeping
// it out of the etcd keyspace means etcd clients cannot corrupt it.
//
// Status (issue 12, in progress): only the public types, errors,
// configuration and ID validation exist; the state machine (Store) and its
// Backend are not written yet.
package resource
