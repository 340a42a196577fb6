package resource

import (
	"errors"
	"testing"

	"github.com/hashicorp/consul/proto-public/pbresource"
)

func TestValidateID(t *testing.T) {
	good := func() *pbresource.ID {
		return &pbresource.ID{
			Type:    &pbresource.Type{Group: "demo", GroupVersion: "v2", Kind: "Artist"},
			Tenancy: &pbresource.Tenancy{Partition: "default", Namespace: "default"},
			Name:    "web-1",
		}
	}
	cases := []struct {
		name  string
		edit  func(*pbresource.ID) *pbresource.ID
		field string
	}{
		{"valid", func(id *pbresource.ID) *pbresource.ID { return id }, ""},
		{"nil id", func(*pbresource.ID) *pbresource.ID { return nil }, "id"},
		{"nil type", func(id *pbresource.ID) *pbresource.ID { id.Type = nil; return id }, "id.type"},
		{"bad group", func(id *pbresource.ID) *pbresource.ID { id.Type.Group = "Demo"; return id }, "id.type.group"},
		{"bad group version", func(id *pbresource.ID) *pbresource.ID { id.Type.GroupVersion = "2"; return id }, "id.type.group_version"},
		{"bad kind", func(id *pbresource.ID) *pbresource.ID { id.Type.Kind = "artist"; return id }, "id.type.kind"},
		{"upper name", func(id *pbresource.ID) *pbresource.ID { id.Name = "Web"; return id }, "id.name"},
		{"empty name", func(id *pbresource.ID) *pbresource.ID { id.Name = ""; return id }, "id.name"},
		{"bad partition", func(id *pbresource.ID) *pbresource.ID { id.Tenancy.Partition = "a_b"; return id }, "id.tenancy.partition"},
		{"bad namespace", func(id *pbresource.ID) *pbresource.ID { id.Tenancy.Namespace = "-x"; return id }, "id.tenancy.namespace"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := ValidateID(c.edit(good()))
			if c.field == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var ve ValidationError
			if !errors.As(err, &ve) || ve.Field != c.field {
				t.Fatalf("got %v, want ValidationError on %q", err, c.field)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{}).Validate(); err != nil {
		t.Fatalf("zero config: %v", err)
	}
	if err := (Config{WatchBuffer: -1}).Validate(); err == nil {
		t.Fatal("negative WatchBuffer accepted")
	}
}

func TestConfigWithDefaults(t *testing.T) {
	c := Config{}.WithDefaults()
	if c.Logger == nil || c.MaxResourceBytes != 4<<20 || c.HistoryEvents != 100000 || c.WatchBuffer != 1024 {
		t.Fatalf("defaults %+v", c)
	}
	if c := (Config{HistoryEvents: 7}).WithDefaults(); c.HistoryEvents != 7 {
		t.Fatalf("a set field was replaced: %+v", c)
	}
}
