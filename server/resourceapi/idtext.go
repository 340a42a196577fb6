package resourceapi

import (
	"fmt"
	"strings"

	"github.com/hashicorp/consul/proto-public/pbresource"
)

// ParseType reads a type written as Consul's CLI writes it,
// "group.group_version.Kind" (demo.v2.Artist).
func ParseType(s string) (*pbresource.Type, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return nil, badField("type", "want group.group_version.Kind (demo.v2.Artist), got %q", s)
	}
	t := &pbresource.Type{Group: parts[0], GroupVersion: parts[1], Kind: parts[2]}
	return t, checkType("type", t)
}

// FormatType writes t as ParseType reads it.
func FormatType(t *pbresource.Type) string {
	return t.GetGroup() + "." + t.GetGroupVersion() + "." + t.GetKind()
}

// ParseID reads an ID written as FormatID writes it:
// "group.group_version.Kind/partition/namespace/name/uid", the form of
// the REST API's ?owner= and `concord resource owned`. Every part is
// required: an owner is one incarnation of a resource, named by its uid.
func ParseID(s string) (*pbresource.ID, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 5 {
		return nil, badField("owner", "want group.group_version.Kind/partition/namespace/name/uid, got %q", s)
	}
	t, err := ParseType(parts[0])
	if err != nil {
		return nil, err
	}
	id := &pbresource.ID{Type: t, Tenancy: &pbresource.Tenancy{Partition: parts[1], Namespace: parts[2]},
		Name: parts[3], Uid: parts[4]}
	if err := checkID("owner", id); err != nil {
		return nil, err
	}
	if id.Uid == "" {
		return nil, badField("owner.uid", "required")
	}
	return id, nil
}

// FormatID writes id as ParseID reads it.
func FormatID(id *pbresource.ID) string {
	return fmt.Sprintf("%s/%s/%s/%s/%s", FormatType(id.GetType()), id.GetTenancy().GetPartition(),
		id.GetTenancy().GetNamespace(), id.GetName(), id.GetUid())
}
