package resource

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/proto-public/pbresource"
	"google.golang.org/protobuf/types/known/anypb"
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
		{"name starting with a digit", func(id *pbresource.ID) *pbresource.ID { id.Name = "1web"; return id }, ""},
		{"63-character name", func(id *pbresource.ID) *pbresource.ID { id.Name = strings.Repeat("a", 63); return id }, ""},
		{"64-character name", func(id *pbresource.ID) *pbresource.ID { id.Name = strings.Repeat("a", 64); return id }, "id.name"},
		{"underscore in name", func(id *pbresource.ID) *pbresource.ID { id.Name = "a_b"; return id }, "id.name"},
		{"upper case namespace", func(id *pbresource.ID) *pbresource.ID { id.Tenancy.Namespace = "Default"; return id }, "id.tenancy.namespace"},
		{"no tenancy", func(id *pbresource.ID) *pbresource.ID { id.Tenancy = nil; return id }, ""},
		{"one-letter group", func(id *pbresource.ID) *pbresource.ID { id.Type.Group = "d"; return id }, "id.type.group"},
		{"beta group version", func(id *pbresource.ID) *pbresource.ID { id.Type.GroupVersion = "v2beta1"; return id }, ""},
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

func TestValidateResourceData(t *testing.T) {
	res := func(url string) *pbresource.Resource {
		return &pbresource.Resource{Id: testID("Artist", "a"), Data: &anypb.Any{TypeUrl: url}}
	}
	for url, ok := range map[string]bool{
		"type.googleapis.com/hashicorp.consul.catalog.v2beta1.Service": true,
		"example.com/x/demo.Artist":                                    true,
		"demo.Artist":                                                  true,
		"":                                                             false,
		"type.googleapis.com/":                                         false,
		"type.googleapis.com/a b":                                      false,
		"type.googleapis.com/.x":                                       false,
	} {
		if err := ValidateResource(res(url), 0); (err == nil) != ok {
			t.Errorf("type_url %q: %v", url, err)
		}
	}
	big := &pbresource.Resource{Id: testID("Artist", "a"), Metadata: map[string]string{"k": strings.Repeat("x", 100)}}
	var ve ValidationError
	if err := ValidateResource(big, 50); !errors.As(err, &ve) || ve.Field != "resource" {
		t.Errorf("oversized: %v", err)
	}
	owner := &pbresource.Resource{Id: testID("Artist", "a"), Owner: testID("Artist", "o")}
	if err := ValidateResource(owner, 0); !errors.As(err, &ve) || ve.Field != "owner.uid" {
		t.Errorf("owner without uid: %v", err)
	}
}

func TestULID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		u := newULID(time.Now())
		if !isULID(u) || seen[u] {
			t.Fatalf("newULID gave %q (valid %v, repeated %v)", u, isULID(u), seen[u])
		}
		seen[u] = true
	}
	// The spec's example: 01ARZ3NDEKTSV4RRFFQ69G5FAV was made at 1469922850259.
	if u := newULID(time.UnixMilli(1469922850259)); u[:10] != "01ARZ3NDEK" {
		t.Fatalf("timestamp encodes as %q", u[:10])
	}
	for _, bad := range []string{"", "8ZZZZZZZZZZZZZZZZZZZZZZZZZ", "01HZZZZZZZZZZZZZZZZZZZZZZ", "01HZZZZZZZZZZZZZZZZZZZZZZU"} {
		if isULID(bad) {
			t.Errorf("%q taken for a ULID", bad)
		}
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
	if c.Logger == nil || c.MaxResourceBytes != 4<<20 || c.HistoryEvents != 10000 || c.WatchBuffer != 1024 {
		t.Fatalf("defaults %+v", c)
	}
	if c := (Config{HistoryEvents: 7}).WithDefaults(); c.HistoryEvents != 7 {
		t.Fatalf("a set field was replaced: %+v", c)
	}
}
