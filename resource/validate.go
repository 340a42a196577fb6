package resource

import (
	"fmt"
	"strings"

	"github.com/hashicorp/consul/proto-public/pbresource"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The patterns Consul's resource service checks, quoted in error messages.
// A name, partition or namespace is a lower case DNS label (RFC 1123:
// letters, digits and '-', starting and ending with a letter or digit, at
// most 63 characters), as Consul's resource.ValidateName and
// dnsutil.IsValidLabel have it; the type patterns are those of Consul's
// resource registry. They are checked by the byte loops in match.go, which
// accept exactly what these regular expressions accept (FuzzMatchers
// proves it) at a fraction of the cost: they run on every write.
const (
	groupPattern        = `^[a-z][a-z\d_]+$`
	groupVersionPattern = `^v([a-z\d]+)?\d$`
	kindPattern         = `^[A-Z][A-Za-z\d]+$`
)

// Wildcard, given as a partition or namespace to List or WatchList, matches
// every value of that field.
const Wildcard = "*"

// MaxStatusKeyBytes caps a status key, MaxMetadataEntries a resource's
// metadata map, so a single field cannot take the whole size budget.
const (
	MaxStatusKeyBytes  = 256
	MaxMetadataEntries = 64
)

const nameReason = "a resource name must consist of lower case alphanumeric characters or '-', must start and end with an alphanumeric character and be less than 64 characters"

// ValidateID checks an ID's type, name and tenancy as Consul's resource
// service does, returning a ValidationError naming the bad field. The uid
// is optional (see ValidateOwnerID).
func ValidateID(id *pbresource.ID) error { return validateID("id", id) }

// ValidateOwnerID checks an owner reference: a valid ID that names a uid
// (an owner reference is anchored to one lifetime of the owner).
func ValidateOwnerID(id *pbresource.ID) error {
	if err := validateID("owner", id); err != nil {
		return err
	}
	if id.Uid == "" {
		return ValidationError{Field: "owner.uid", Reason: "required"}
	}
	return nil
}

func validateID(prefix string, id *pbresource.ID) error {
	if id == nil {
		return ValidationError{Field: prefix, Reason: "required"}
	}
	if err := validateType(prefix+".type", id.Type); err != nil {
		return err
	}
	if id.Name == "" {
		return ValidationError{Field: prefix + ".name", Reason: "required"}
	}
	if !isLabel(id.Name) {
		return ValidationError{Field: prefix + ".name", Reason: fmt.Sprintf("%s, got: %q", nameReason, id.Name)}
	}
	if err := validateTenancy(prefix+".tenancy", id.Tenancy, false); err != nil {
		return err
	}
	if len(id.Uid) > 128 {
		return ValidationError{Field: prefix + ".uid", Reason: "longer than 128 bytes"}
	}
	return nil
}

// validateTenancy checks partition and namespace: each empty or a DNS
// label, or (in List and WatchList, wildcard set) "*".
func validateTenancy(field string, t *pbresource.Tenancy, wildcard bool) error {
	check := func(name, v string) error {
		if v == "" || (wildcard && v == Wildcard) || isLabel(v) {
			return nil
		}
		return ValidationError{Field: field + "." + name, Reason: fmt.Sprintf("must be a lower case DNS label of at most 63 characters, got: %q", v)}
	}
	if err := check("partition", t.GetPartition()); err != nil {
		return err
	}
	return check("namespace", t.GetNamespace())
}

// ValidateType checks a resource type's group, group version and kind.
func ValidateType(t *pbresource.Type) error { return validateType("id.type", t) }

func validateType(field string, t *pbresource.Type) error {
	switch {
	case t == nil:
		return ValidationError{Field: field, Reason: "required"}
	case !isGroup(t.Group):
		return ValidationError{Field: field + ".group", Reason: fmt.Sprintf("must match %s, got: %q", groupPattern, t.Group)}
	case !isGroupVersion(t.GroupVersion):
		return ValidationError{Field: field + ".group_version", Reason: fmt.Sprintf("must match %s (like v1, v2beta1), got: %q", groupVersionPattern, t.GroupVersion)}
	case !isKind(t.Kind):
		return ValidationError{Field: field + ".kind", Reason: fmt.Sprintf("must match %s (PascalCase), got: %q", kindPattern, t.Kind)}
	}
	return nil
}

// validateUnversionedType checks the group and kind of a List or Watch.
func validateUnversionedType(t UnversionedType) error {
	switch {
	case !isGroup(t.Group):
		return ValidationError{Field: "type.group", Reason: fmt.Sprintf("must match %s, got: %q", groupPattern, t.Group)}
	case !isKind(t.Kind):
		return ValidationError{Field: "type.kind", Reason: fmt.Sprintf("must match %s (PascalCase), got: %q", kindPattern, t.Kind)}
	}
	return nil
}

// ValidateResource checks a resource before it is proposed (and again in
// apply): its ID, its owner (which must name a uid), its data (a valid Any,
// or none), its metadata, and its encoded size against maxBytes.
func ValidateResource(res *pbresource.Resource, maxBytes int) error {
	if res == nil {
		return ValidationError{Field: "resource", Reason: "required"}
	}
	if err := ValidateID(res.Id); err != nil {
		return err
	}
	if res.Owner != nil {
		if err := ValidateOwnerID(res.Owner); err != nil {
			return err
		}
	}
	if err := validateAny(res); err != nil {
		return err
	}
	if len(res.Metadata) > MaxMetadataEntries {
		return ValidationError{Field: "metadata", Reason: fmt.Sprintf("%d entries, more than %d", len(res.Metadata), MaxMetadataEntries)}
	}
	for k := range res.Metadata {
		if k == "" {
			return ValidationError{Field: "metadata", Reason: "empty key"}
		}
	}
	if n := proto.Size(res); maxBytes > 0 && n > maxBytes {
		return ValidationError{Field: "resource", Reason: fmt.Sprintf("%d bytes encoded, larger than the %d-byte limit", n, maxBytes)}
	}
	return nil
}

// validateAny checks that data, if present, is a well-formed Any: a type
// URL whose last path segment names a message.
func validateAny(res *pbresource.Resource) error {
	d := res.Data
	if d == nil {
		return nil
	}
	url := d.TypeUrl
	name := protoreflect.FullName(url[strings.LastIndexByte(url, '/')+1:])
	if !name.IsValid() {
		return ValidationError{Field: "data", Reason: fmt.Sprintf("not a valid google.protobuf.Any: type_url %q names no message", url)}
	}
	return nil
}

// validateStatus checks a WriteStatus request as Consul's resource service
// does: the ID with its uid, a key, a status whose observed generation is a
// ULID and whose conditions have a type (and valid references).
func validateStatus(id *pbresource.ID, key string, st *pbresource.Status) error {
	if err := ValidateID(id); err != nil {
		return err
	}
	switch {
	case id.Uid == "":
		return ValidationError{Field: "id.uid", Reason: "required"}
	case key == "":
		return ValidationError{Field: "key", Reason: "required"}
	case len(key) > MaxStatusKeyBytes:
		return ValidationError{Field: "key", Reason: fmt.Sprintf("longer than %d bytes", MaxStatusKeyBytes)}
	case st == nil:
		return ValidationError{Field: "status", Reason: "required"}
	case st.ObservedGeneration == "":
		return ValidationError{Field: "status.observed_generation", Reason: "required"}
	case !isULID(st.ObservedGeneration):
		return ValidationError{Field: "status.observed_generation", Reason: fmt.Sprintf("not a valid ULID: %q", st.ObservedGeneration)}
	}
	for i, c := range st.Conditions {
		field := fmt.Sprintf("status.conditions[%d]", i)
		if c == nil || c.Type == "" {
			return ValidationError{Field: field + ".type", Reason: "required"}
		}
		if ref := c.Resource; ref != nil {
			if err := validateType(field+".resource.type", ref.Type); err != nil {
				return err
			}
			if !isLabel(ref.Name) {
				return ValidationError{Field: field + ".resource.name", Reason: fmt.Sprintf("%s, got: %q", nameReason, ref.Name)}
			}
			if err := validateTenancy(field+".resource.tenancy", ref.Tenancy, false); err != nil {
				return err
			}
		}
	}
	return nil
}
