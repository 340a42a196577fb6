package resourceapi

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	pbmulticluster "github.com/hashicorp/consul/proto-public/pbmulticluster/v2"
	"github.com/hashicorp/consul/proto-public/pbresource"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"
)

func demoID() *pbresource.ID {
	return &pbresource.ID{Type: &pbresource.Type{Group: "demo", GroupVersion: "v2", Kind: "Artist"},
		Tenancy: &pbresource.Tenancy{Partition: "default", Namespace: "default"}, Name: "korn"}
}

func TestCodecRoundTrip(t *testing.T) {
	known, err := anypb.New(&pbmulticluster.ExportedServices{Services: []string{"api"}})
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]*anypb.Any{
		"known type":   known,
		"unknown type": {TypeUrl: "type.googleapis.com/hashicorp.consul.internal.demo.v2.Artist", Value: []byte{0x0a, 0x04, 'K', 'o', 'r', 'n'}},
		"no data":      nil,
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			res := &pbresource.Resource{Id: demoID(), Version: "7", Generation: "01HZ", Metadata: map[string]string{"a": "b"},
				Owner: &pbresource.ID{Type: demoID().Type, Tenancy: demoID().Tenancy, Name: "owner", Uid: "U1"}, Data: data}
			b, err := MarshalResource(res)
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(b) {
				t.Fatalf("not JSON: %s", b)
			}
			got, err := UnmarshalResource(b)
			if err != nil {
				t.Fatalf("%s: %v", b, err)
			}
			if !proto.Equal(got, res) {
				t.Fatalf("round trip changed the resource:\n got %v\nwant %v\njson %s", got, res, b)
			}
		})
	}
}

// A `consul resource apply` style file: data without "@type".
func TestCodecConsulFileShapes(t *testing.T) {
	t.Run("unknown type becomes a Struct", func(t *testing.T) {
		res, err := UnmarshalResource([]byte(`{"id":{"type":{"group":"demo","groupVersion":"v2","kind":"Artist"},"name":"korn"},
			"data":{"name":"Korn","genre":"GENRE_METAL"},"metadata":{"foo":"bar"}}`))
		if err != nil {
			t.Fatal(err)
		}
		var s structpb.Struct
		if err := res.Data.UnmarshalTo(&s); err != nil {
			t.Fatalf("data %v: %v", res.Data, err)
		}
		if s.Fields["name"].GetStringValue() != "Korn" || res.Metadata["foo"] != "bar" {
			t.Fatalf("got %v", res)
		}
	})
	t.Run("Consul's own type by convention", func(t *testing.T) {
		res, err := UnmarshalResource([]byte(`{"id":{"type":{"group":"multicluster","group_version":"v2","kind":"ExportedServices"},"name":"x"},
			"data":{"services":["api","web"]}}`))
		if err != nil {
			t.Fatal(err)
		}
		var es pbmulticluster.ExportedServices
		if err := res.Data.UnmarshalTo(&es); err != nil || len(es.Services) != 2 {
			t.Fatalf("data %v: %v", res.Data, err)
		}
	})
}

func TestCodecRejects(t *testing.T) {
	cases := map[string]string{
		"not JSON":             `{`,
		"not an object":        `[1]`,
		"unknown field":        `{"id":{"name":"korn"},"colour":"red"}`,
		"unknown id field":     `{"id":{"name":"korn","nick":"k"}}`,
		"data not an object":   `{"data":"x"}`,
		"bad type url":         `{"data":{"@type":"nonsense"}}`,
		"unknown type fields":  `{"data":{"@type":"type.googleapis.com/x.y.Z","name":"k"}}`,
		"unknown type bad b64": `{"data":{"@type":"type.googleapis.com/x.y.Z","@value":"!!"}}`,
		"known type bad field": `{"data":{"@type":"type.googleapis.com/hashicorp.consul.multicluster.v2.ExportedServices","nope":1}}`,
		"convention bad field": `{"id":{"type":{"group":"multicluster","groupVersion":"v2","kind":"ExportedServices"}},"data":{"nope":1}}`,
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := UnmarshalResource([]byte(in))
			var re *RequestError
			if !errors.As(err, &re) {
				t.Fatalf("got %v, want a *RequestError", err)
			}
			if classify(err) != invalid {
				t.Fatalf("%v maps to %+v", err, classify(err))
			}
		})
	}
}

func TestMarshalIsStable(t *testing.T) {
	res := &pbresource.Resource{Id: demoID(), Version: "3"}
	a, _ := MarshalResource(res)
	for range 20 {
		b, _ := MarshalResource(res)
		if string(a) != string(b) {
			t.Fatalf("output changed: %s vs %s", a, b)
		}
	}
	if strings.Contains(string(a), " ") {
		t.Fatalf("not compact: %s", a)
	}
}

func TestIDText(t *testing.T) {
	id := demoID()
	id.Uid = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
	s := FormatID(id)
	if s != "demo.v2.Artist/default/default/korn/01ARZ3NDEKTSV4RRFFQ69G5FAV" {
		t.Fatalf("FormatID = %s", s)
	}
	got, err := ParseID(s)
	if err != nil || !proto.Equal(got, id) {
		t.Fatalf("ParseID(%s) = %v, %v", s, got, err)
	}
	for _, bad := range []string{"", "demo.v2.Artist/default/default/korn", "demo.v2.Artist/default/default/korn/",
		"demo.Artist/default/default/korn/U", "demo.v2.Artist/De/default/korn/U", "demo.v2.Artist/default/default/Korn/U"} {
		if _, err := ParseID(bad); classify(err) != invalid {
			t.Errorf("ParseID(%q) = %v, want an invalid-argument error", bad, err)
		}
	}
}
