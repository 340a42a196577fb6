package resource

import (
	"strings"

	"github.com/hashicorp/consul/proto-public/pbresource"

	"github.com/concord-db/concord/internal/btree"
)

// The store's indexes: two persistent B+trees (internal/btree, the kv
// package's index too), never changed once published: a write makes new
// maps that copy the path to the changed entry and share the rest, so a
// published state is an O(1) fork that readers use without locks. One log
// entry's writes go to transient maps (see tables.transient), which copy a
// node once per entry rather than once per write. They replaced go-memdb,
// whose radix-tree writes (a channel per copied node, an LRU per
// transaction) were most of a write's apply cost, then
// benbjohnson/immutable's SortedMap, which copied the path on every write.
//
//   - byID: the "id" key (group, kind, partition, namespace, name; the
//     group version is not part of a resource's identity: Consul stores
//     one form of a resource and lets readers translate) to the resource.
//     Its prefixes serve List: type, then partition, then namespace, then a
//     name prefix, as far as the query has no wildcard.
//   - byOwner: the owner's "owner" key (its full ID including its uid)
//     followed by the owned resource's "id" key, for resources with an
//     owner, so ListByOwner is a prefix scan of one lifetime of the owner,
//     in id order.
//
// The stored *pbresource.Resource values are never modified once stored (a
// write stores a new value). Every field in a key is validated (DNS labels,
// type patterns), so none holds the 0 byte that separates them.
type tables struct {
	byID    *btree.Map[*pbresource.Resource]
	byOwner *btree.Map[*pbresource.Resource]
}

func newTables() tables {
	return tables{byID: btree.New[*pbresource.Resource](), byOwner: btree.New[*pbresource.Resource]()}
}

// transient returns tables that one writer changes in place (see
// internal/btree) until freeze; t itself is left as it was.
func (t tables) transient() tables {
	return tables{byID: t.byID.Transient(), byOwner: t.byOwner.Transient()}
}

// freeze makes transient tables persistent, to be published.
func (t tables) freeze() {
	t.byID.Freeze()
	t.byOwner.Freeze()
}

// get returns the stored resource with id's identity (any uid, any group
// version), or nil.
func (t tables) get(id *pbresource.ID) *pbresource.Resource { return t.lookup(idKey(id)) }

// lookup is get by the identity's idKey.
func (t tables) lookup(k string) *pbresource.Resource {
	r, _ := t.byID.Get(k)
	return r
}

// set stores r in place of old (the resource with r's identity, or nil).
func (t tables) set(old, r *pbresource.Resource) tables { return t.store(idKey(r.Id), old, r) }

// store is set with r's idKey k, which a write has already computed.
func (t tables) store(k string, old, r *pbresource.Resource) tables {
	var owner string
	if r.Owner != nil {
		owner = ownerKey(r.Owner)
	}
	if old != nil && old.Owner != nil {
		if was := ownerKey(old.Owner); was != owner {
			t.byOwner = t.byOwner.Delete(was + k)
		}
	}
	if r.Owner != nil {
		t.byOwner = t.byOwner.Set(owner+k, r)
	}
	t.byID = t.byID.Set(k, r)
	return t
}

// remove deletes the stored resource r.
func (t tables) remove(r *pbresource.Resource) tables {
	k := idKey(r.Id)
	if r.Owner != nil {
		t.byOwner = t.byOwner.Delete(ownerKey(r.Owner) + k)
	}
	t.byID = t.byID.Delete(k)
	return t
}

// scan calls fn with every entry of m whose key starts with prefix, in key
// order, until fn returns false.
func scan(m *btree.Map[*pbresource.Resource], prefix string, fn func(*pbresource.Resource) bool) {
	it := m.Seek(prefix)
	for !it.Done() {
		k, r, _ := it.Next()
		if !strings.HasPrefix(k, prefix) || !fn(r) {
			return
		}
	}
}

func typeKey(group, kind string) string { return group + "\x00" + kind + "\x00" }

// idKey is the "id" index key of an ID.
func idKey(id *pbresource.ID) string {
	t := id.GetTenancy()
	return typeKey(id.GetType().GetGroup(), id.GetType().GetKind()) + t.GetPartition() + "\x00" + t.GetNamespace() + "\x00" + id.GetName() + "\x00"
}

// ownerKey is the "owner" index key of an owner ID (its uid included).
func ownerKey(id *pbresource.ID) string { return idKey(id) + id.GetUid() + "\x00" }

// query selects the resources of one List or WatchList.
type query struct {
	typ        UnversionedType
	partition  string // or Wildcard
	namespace  string // or Wildcard
	namePrefix string
}

func newQuery(t UnversionedType, ten *pbresource.Tenancy, namePrefix string) query {
	return query{typ: t, partition: ten.GetPartition(), namespace: ten.GetNamespace(), namePrefix: namePrefix}
}

// prefix is the longest "id" key prefix every match shares.
func (q query) prefix() string {
	var b strings.Builder
	b.WriteString(typeKey(q.typ.Group, q.typ.Kind))
	if q.partition == Wildcard {
		return b.String()
	}
	b.WriteString(q.partition + "\x00")
	if q.namespace == Wildcard {
		return b.String()
	}
	b.WriteString(q.namespace + "\x00" + q.namePrefix)
	return b.String()
}

// matches reports whether r is selected by q.
func (q query) matches(r *pbresource.Resource) bool {
	id := r.GetId()
	t := id.GetTenancy()
	return id.GetType().GetGroup() == q.typ.Group && id.GetType().GetKind() == q.typ.Kind &&
		(q.partition == Wildcard || q.partition == t.GetPartition()) &&
		(q.namespace == Wildcard || q.namespace == t.GetNamespace()) &&
		strings.HasPrefix(id.GetName(), q.namePrefix)
}

// typeName names a resource type in Status and metrics: "group.kind".
func typeName(t *pbresource.Type) string { return t.GetGroup() + "." + t.GetKind() }
