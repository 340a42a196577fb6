package resource

import (
	"fmt"
	"strings"

	"github.com/hashicorp/consul/proto-public/pbresource"
	"github.com/hashicorp/go-memdb"
)

// The go-memdb schema: one table of *pbresource.Resource values (never
// modified once inserted: a write inserts a new value) with two indexes.
//
//   - "id" (unique): group, kind, partition, namespace, name. The group
//     version is not part of a resource's identity (Consul stores one form
//     of a resource and lets readers translate). Its prefix form serves
//     List: type, then partition, then namespace, then a name prefix, as far
//     as the query has no wildcard.
//   - "owner" (non-unique, optional): the owner's full ID including its uid,
//     so ListByOwner is an index lookup of one lifetime of the owner.
//
// Every field in a key is validated (DNS labels, type patterns), so none
// holds the 0 byte that separates them.
const (
	tableResources = "resources"
	indexID        = "id"
	indexOwner     = "owner"
)

var schema = &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{
	tableResources: {
		Name: tableResources,
		Indexes: map[string]*memdb.IndexSchema{
			indexID:    {Name: indexID, Unique: true, Indexer: keyIndexer{key: func(r *pbresource.Resource) string { return idKey(r.Id) }}},
			indexOwner: {Name: indexOwner, AllowMissing: true, Indexer: keyIndexer{key: ownerKeyOf}},
		},
	},
}}

func ownerKeyOf(r *pbresource.Resource) string {
	if r.Owner == nil {
		return ""
	}
	return ownerKey(r.Owner)
}

// keyIndexer indexes a resource by a string key computed from it; queries
// pass the key (or a prefix of it) as their only argument.
type keyIndexer struct {
	key func(*pbresource.Resource) string
}

func (x keyIndexer) FromObject(obj any) (bool, []byte, error) {
	r, ok := obj.(*pbresource.Resource)
	if !ok {
		return false, nil, fmt.Errorf("resource: indexing %T", obj)
	}
	k := x.key(r)
	return k != "", []byte(k), nil
}

func (keyIndexer) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("resource: index wants one key, got %d", len(args))
	}
	k, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("resource: index key of type %T", args[0])
	}
	return []byte(k), nil
}

func (x keyIndexer) PrefixFromArgs(args ...any) ([]byte, error) { return x.FromArgs(args...) }

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

func newDB() *memdb.MemDB {
	db, err := memdb.NewMemDB(schema)
	if err != nil {
		panic(fmt.Sprintf("resource: schema: %v", err))
	}
	return db
}
