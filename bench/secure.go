package bench

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// Security is how the load generator reaches a secured cluster: TLS on
// the client port (the --cacert/--cert/--key of the other commands) and a
// user (--user). The zero value is a plain cluster without auth.
type Security struct {
	// TLS, if set, is the client TLS configuration of every connection.
	TLS *tls.Config
	// Username and Password authenticate every client: clientv3's own
	// Username/Password for the kv workloads, one token (from the etcd
	// Auth service, sent as etcd's "token" metadata or as a bearer token)
	// for the resource and SQL workloads, so no request pays for a
	// password hash.
	Username, Password string
}

// grpcCreds is the transport credentials of s.
func (s Security) grpcCreds() grpc.DialOption {
	if s.TLS != nil {
		return grpc.WithTransportCredentials(credentials.NewTLS(s.TLS.Clone()))
	}
	return grpc.WithTransportCredentials(insecure.NewCredentials())
}

// httpScheme is the scheme of the REST and SQL URLs.
func (s Security) httpScheme() string {
	if s.TLS != nil {
		return "https://"
	}
	return "http://"
}

// tokenCreds sends an etcd auth token with every RPC once one is set
// (after the connection authenticated).
type tokenCreds struct{ token string }

func (t *tokenCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	if t.token == "" {
		return nil, nil
	}
	return map[string]string{"token": t.token}, nil
}

func (t *tokenCreds) RequireTransportSecurity() bool { return false }

// grpcToken authenticates s's user on cc (etcd's Auth service) and returns
// the token, "" without a user or when auth is off.
func (s Security) grpcToken(ctx context.Context, cc *grpc.ClientConn) (string, error) {
	if s.Username == "" {
		return "", nil
	}
	resp, err := pb.NewAuthClient(cc).Authenticate(ctx, &pb.AuthenticateRequest{Name: s.Username, Password: s.Password})
	if err != nil {
		if strings.Contains(err.Error(), "authentication is not enabled") {
			return "", nil
		}
		return "", fmt.Errorf("authenticating %s: %w", s.Username, err)
	}
	return resp.Token, nil
}

// httpToken authenticates s's user at base (POST /v1/auth/authenticate)
// and returns the token, "" without a user or when auth is off.
func (s Security) httpToken(ctx context.Context, hc *http.Client, base string) (string, error) {
	if s.Username == "" {
		return "", nil
	}
	body, _ := json.Marshal(map[string]string{"name": s.Username, "password": s.Password})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/auth/authenticate", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusBadRequest && strings.Contains(string(raw), "not enabled") {
		return "", nil
	}
	var out struct {
		Token string `json:"token"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &out) != nil {
		return "", fmt.Errorf("authenticating %s: HTTP %d: %s", s.Username, resp.StatusCode, strings.TrimSpace(string(raw)))
	}
	return out.Token, nil
}
