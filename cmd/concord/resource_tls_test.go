package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/proto-public/pbresource"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/concord-db/concord/agent/agenttest"
)

// TestResourceOverTLS runs concord resource with etcdctl's --cacert,
// --cert and --key, and proto-public's client with TLS, against a cluster
// whose client port requires client certificates.
func TestResourceOverTLS(t *testing.T) {
	c := agenttest.Start(t, 3, agenttest.Options{TLS: true})
	f := c.TLS
	ep := c.Endpoint(c.Follower())
	tlsFlags := []string{"--endpoints", ep, "--cacert", f.CA.CertFile, "--cert", f.Client.CertFile, "--key", f.Client.KeyFile}
	code, out, errs := run(t, `{"id": {"type": {"group": "demo", "groupVersion": "v2", "kind": "Artist"}, "name": "tls"}}`,
		append([]string{"resource", "apply", "-f", "-"}, tlsFlags...)...)
	if code != exitOK || !strings.Contains(out, "tls") {
		t.Fatalf("apply over TLS: exit %d %q %q", code, out, errs)
	}
	code, out, errs = run(t, "", append([]string{"resource", "list", "demo.v2.Artist", "--consistent"}, tlsFlags...)...)
	if code != exitOK || !strings.Contains(out, "tls") {
		t.Fatalf("list over TLS: exit %d %q %q", code, out, errs)
	}
	if code, _, _ := run(t, "", "resource", "list", "demo.v2.Artist", "--endpoints", ep, "--cacert", f.CA.CertFile); code == exitOK {
		t.Fatal("a client without a certificate was served")
	}

	conn, err := grpc.NewClient(ep, grpc.WithTransportCredentials(credentials.NewTLS(c.ClientTLS())))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := pbresource.NewResourceServiceClient(conn).Read(ctx, &pbresource.ReadRequest{Id: &pbresource.ID{
		Type: &pbresource.Type{Group: "demo", GroupVersion: "v2", Kind: "Artist"}, Name: "tls",
		Tenancy: &pbresource.Tenancy{Partition: "default", Namespace: "default"}}})
	if err != nil || resp.Resource.Id.Uid == "" {
		t.Fatalf("gRPC read over TLS: %v %v", resp, err)
	}
}
