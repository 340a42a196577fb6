package resource

import (
	"regexp"

	"github.com/hashicorp/consul/proto-public/pbresource"
)

var (
	nameRE         = regexp.MustCompile(`^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$`)
	groupRE        = regexp.MustCompile(`^[a-z][a-z\d_]+$`)
	groupVersionRE = regexp.MustCompile(`^v([a-z\d]+)?\d$`)
	kindRE         = regexp.MustCompile(`^[A-Z][A-Za-z\d]+$`)
)

// ValidateID checks an ID's type, name and tenancy as Consul's resource
// service does, returning a ValidationError naming the bad field.
func ValidateID(id *pbresource.ID) error {
	if id == nil {
		return ValidationError{Field: "id", Reason: "required"}
	}
	if err := ValidateType(id.Type); err != nil {
		return err
	}
	if !nameRE.MatchString(id.Name) {
		return ValidationError{Field: "id.name", Reason: "a resource name must consist of lower case alphanumeric characters or '-', start with a letter, end with an alphanumeric character and be at most 63 characters"}
	}
	if t := id.Tenancy; t != nil {
		if t.Partition != "" && !nameRE.MatchString(t.Partition) {
			return ValidationError{Field: "id.tenancy.partition", Reason: "must be a valid DNS label"}
		}
		if t.Namespace != "" && !nameRE.MatchString(t.Namespace) {
			return ValidationError{Field: "id.tenancy.namespace", Reason: "must be a valid DNS label"}
		}
	}
	return nil
}

// ValidateType checks a resource type's group, group version and kind.
func ValidateType(t *pbresource.Type) error {
	switch {
	case t == nil:
		return ValidationError{Field: "id.type", Reason: "required"}
	case !groupRE.MatchString(t.Group):
		return ValidationError{Field: "id.type.group", Reason: "must be lower case letters, digits or '_', starting with a letter"}
	case !groupVersionRE.MatchString(t.GroupVersion):
		return ValidationError{Field: "id.type.group_version", Reason: "must look like v1, v2beta1"}
	case !kindRE.MatchString(t.Kind):
		return ValidationError{Field: "id.type.kind", Reason: "must be PascalCase"}
	}
	return nil
}
