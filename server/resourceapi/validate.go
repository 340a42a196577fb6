package resourceapi

import (
	"errors"
	"strings"

	"github.com/hashicorp/consul/proto-public/pbresource"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/concord-db/concord/resource"
)

// checkID validates an ID named field ("id", "resource.owner", ...) as
// Consul's resource service does (resource.ValidateID), reporting the
// field under its name in the request.
func checkID(field string, id *pbresource.ID) error {
	if id == nil {
		return badField(field, "required")
	}
	err := resource.ValidateID(id)
	var ve resource.ValidationError
	if errors.As(err, &ve) {
		return &RequestError{Field: field + strings.TrimPrefix(ve.Field, "id"), Reason: ve.Reason}
	}
	return err
}

// checkType validates a type named field.
func checkType(field string, t *pbresource.Type) error {
	err := resource.ValidateType(t)
	var ve resource.ValidationError
	if errors.As(err, &ve) {
		return &RequestError{Field: field + strings.TrimPrefix(ve.Field, "id.type"), Reason: ve.Reason}
	}
	return err
}

// checkUnversioned validates the type of a list or watch, whose group
// version is not part of the query (it may be left empty).
func checkUnversioned(field string, t *pbresource.Type) error {
	if t == nil {
		return badField(field, "required")
	}
	probe := &pbresource.Type{Group: t.Group, GroupVersion: t.GroupVersion, Kind: t.Kind}
	if probe.GroupVersion == "" {
		probe.GroupVersion = "v1"
	}
	return checkType(field, probe)
}

// checkTenancy validates a list's tenancy: each part empty, "*" (every
// value) or a name as Consul accepts it.
func checkTenancy(field string, t *pbresource.Tenancy) error {
	if t == nil {
		return nil
	}
	probe := func(part, value string) error {
		if value == "" || value == "*" {
			return nil
		}
		id := &pbresource.ID{Name: value, Type: &pbresource.Type{Group: "x1", GroupVersion: "v1", Kind: "Xx"}}
		if resource.ValidateID(id) != nil {
			return badField(field+"."+part, "must be \"*\" or a valid DNS label, got %q", value)
		}
		return nil
	}
	return errors.Join(probe("partition", t.Partition), probe("namespace", t.Namespace))
}

// checkResource validates a resource to be written: its id, its owner
// (which must name a uid: an owner is one incarnation of a resource), its
// data (a valid Any) and its encoded size.
func (a *API) checkResource(res *pbresource.Resource) error {
	if res == nil {
		return badField("resource", "required")
	}
	if err := checkID("resource.id", res.Id); err != nil {
		return err
	}
	if res.Owner != nil {
		if err := checkID("resource.owner", res.Owner); err != nil {
			return err
		}
		if res.Owner.Uid == "" {
			return badField("resource.owner.uid", "required: an owner names one incarnation of a resource")
		}
	}
	if err := checkData(res.Data); err != nil {
		return err
	}
	if size := proto.Size(res); size > a.cfg.MaxResourceBytes {
		return &TooLargeError{Size: size, Limit: a.cfg.MaxResourceBytes}
	}
	return nil
}

// checkData requires data, if any, to be a valid Any: a type URL ending
// in a full message name and, when this server knows the type, a value
// that decodes as it. (Consul's service requires data because its type
// registry says what it must be; concord has no registry, and the store
// takes a resource without data.)
func checkData(data *anypb.Any) error {
	if data == nil {
		return nil
	}
	name, err := anyMessageName(data.TypeUrl)
	if err != nil {
		return err
	}
	mt, err := protoregistry.GlobalTypes.FindMessageByName(name)
	if err != nil {
		return nil // a type this server does not know is stored as given
	}
	if err := proto.Unmarshal(data.Value, mt.New().Interface()); err != nil {
		return badField("resource.data.value", "is not a valid %s: %v", name, err)
	}
	return nil
}

// anyMessageName is the message name at the end of an Any's type URL.
func anyMessageName(url string) (protoreflect.FullName, error) {
	if url == "" {
		return "", badField("resource.data.type_url", "required")
	}
	i := strings.LastIndexByte(url, '/')
	name := protoreflect.FullName(url[i+1:])
	if i < 0 || !name.IsValid() || !strings.Contains(string(name), ".") {
		return "", badField("resource.data.type_url", "%q does not end in a message name (type.googleapis.com/package.Message)", url)
	}
	return name, nil
}
