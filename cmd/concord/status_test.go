package main

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestPrintFacesFlattensSectionsSorted(t *testing.T) {
	var faces map[string]any
	if err := json.Unmarshal([]byte(`{"sql":{"size_bytes":1234567890,"applied_index":12},"resource":{"count":3,"by_type":{"demo.v1.Artist":3}}}`), &faces); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	printFaces(&b, faces)
	want := "resource: by_type={\"demo.v1.Artist\":3} count=3\nsql: applied_index=12 size_bytes=1234567890\n"
	if b.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}
