// Package server is concord's client port: one TCP listener that serves
// HTTP/1.1 (the REST/JSON API, health and readiness probes, Prometheus
// metrics) and gRPC (etcd's v3 API, once the KV store lands) side by side.
//
// Connections are routed by their first bytes: a connection that opens with
// the HTTP/2 client preface ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") goes to the
// grpc.Server, every other one to net/http. The server needs only the small
// Node interface from the consensus layer, so handlers are tested against a
// fake.
//
// # Usage
//
//	srv, err := server.New(server.Config{Node: n, Logger: logger})
//	if err != nil { ... }
//	pb.RegisterKVServer(srv.GRPC(), kvService) // later: etcd's services
//	ln, _ := net.Listen("tcp", "127.0.0.1:2379")
//	go srv.Serve(ln)
//	...
//	srv.Shutdown(ctx)
package server
