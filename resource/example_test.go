package resource_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/hashicorp/consul/proto-public/pbresource"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/concord-db/concord/node"
	"github.com/concord-db/concord/resource"
)

// Example embeds a single-member node with a resource store: a create, a
// compare-and-swap update, a stale update refused, a strong read, a status
// write, and a watch resumed from a version.
func Example() {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir, _ := os.MkdirTemp("", "resource-example")
	defer os.RemoveAll(dir)
	cfg := node.DefaultConfig()
	cfg.ID, cfg.DataDir, cfg.PeerAddr, cfg.Bootstrap, cfg.Logger = "n1", dir, "127.0.0.1:0", true, quiet
	cfg.HeartbeatTimeout, cfg.ElectionTimeout = 100*time.Millisecond, 100*time.Millisecond
	n, err := node.New(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	store, _ := resource.Open(resource.Config{Logger: quiet})
	defer store.Close()
	n.Register(node.TypeResource, store)
	if err := n.Start(); err != nil {
		fmt.Println(err)
		return
	}
	defer n.Shutdown()
	<-n.Ready()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b := resource.NewBackend(store, n)

	data, _ := anypb.New(wrapperspb.String("Blue Train"))
	id := &pbresource.ID{
		Type:    &pbresource.Type{Group: "music", GroupVersion: "v1", Kind: "Album"},
		Tenancy: &pbresource.Tenancy{Partition: "default", Namespace: "default"},
		Name:    "blue-train",
	}
	v1, _ := b.WriteCAS(ctx, &pbresource.Resource{Id: id, Data: data})
	fmt.Println("created at version", v1.Version, "with a uid:", v1.Id.Uid != "")

	v2 := proto.Clone(v1).(*pbresource.Resource)
	v2.Metadata = map[string]string{"label": "blue-note"}
	v2, _ = b.WriteCAS(ctx, v2)
	fmt.Println("updated to version", v2.Version, "new generation:", v2.Generation != v1.Generation)

	_, err = b.WriteCAS(ctx, v1) // v1's version is stale now
	fmt.Println("stale write:", errors.Is(err, resource.ErrCASFailure))

	st, _ := b.WriteStatus(ctx, v2.Id, "", "reviewer", &pbresource.Status{ObservedGeneration: v2.Generation})
	fmt.Println("status written at version", st.Version, "same generation:", st.Generation == v2.Generation)

	got, _ := b.Read(ctx, resource.StrongConsistency, id)
	fmt.Println("strong read:", got.Version, got.Metadata["label"])

	albums := resource.UnversionedType{Group: "music", Kind: "Album"}
	w, _ := b.WatchList(ctx, albums, &pbresource.Tenancy{Partition: "*", Namespace: "*"}, "", 1)
	defer w.Close()
	for range 2 {
		ev, _ := w.Next(ctx)
		fmt.Println("resumed after 1:", ev.Kind, ev.Resource.Id.Name, "at", ev.Version)
	}
	// Output:
	// created at version 1 with a uid: true
	// updated to version 2 new generation: true
	// stale write: true
	// status written at version 3 same generation: true
	// strong read: 3 blue-note
	// resumed after 1: upsert blue-train at 2
	// resumed after 1: upsert blue-train at 3
}
