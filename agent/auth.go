package agent

import (
	"fmt"

	"github.com/concord-db/concord/auth"
	"github.com/concord-db/concord/node"
	"github.com/concord-db/concord/server/etcdapi"
	"google.golang.org/grpc"
)

// openAuth builds the member's auth store (etcd's users, roles and tokens)
// and registers it on the node, before the node starts. A client
// certificate names the user when the client port verifies certificates
// (--client-cert-auth), as in etcd.
func openAuth(cfg Config, n *node.Node) (*auth.Store, error) {
	ac := cfg.Auth
	ac.ClientCertAuth = ac.ClientCertAuth || cfg.ClientTLS.ClientCertAuth
	if ac.Logger == nil {
		ac.Logger = cfg.Logger.With("face", "auth")
	}
	s, err := auth.New(ac, n)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	if err := n.Register(node.TypeAuth, s); err != nil {
		return nil, err
	}
	return s, nil
}

// authInterceptors check every etcd call against the auth store.
func authInterceptors(api *etcdapi.API) []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(api.UnaryInterceptor()),
		grpc.ChainStreamInterceptor(api.StreamInterceptor()),
	}
}
