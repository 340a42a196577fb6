package sqldriver

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/concord-db/concord/internal/tlsconfig"
)

// Config is a parsed DSN:
//
//	concord://host1:2379,host2:2379/?level=linearizable&timeout=5s
//	concord://host1:2379/?cacert=ca.pem&cert=client.pem&key=client-key.pem
//
// Parameters (all optional):
//
//	level        read consistency of queries outside a transaction: none,
//	             weak, linearizable (default) or strong
//	freshness    with level=none, the staleness bound (e.g. 1s)
//	timeout      bound of each request (default 30s)
//	cacert       CA bundle (PEM) that signs the members' certificates; turns TLS on
//	cert, key    client certificate and key (PEM); turn TLS on
//	insecure_skip_verify=true  TLS without checking the server (testing only)
//	tls=true     TLS with the system's roots
type Config struct {
	// Endpoints are the members' base URLs (http://host:port or https://).
	Endpoints []string
	Level     string
	Freshness time.Duration
	Timeout   time.Duration
	// TLS is nil for plain HTTP.
	TLS *tls.Config
}

// DefaultTimeout bounds a request when the DSN sets no timeout.
const DefaultTimeout = 30 * time.Second

var levels = []string{"none", "weak", "linearizable", "strong"}

// ParseDSN parses a DSN; the error says which part is wrong.
func ParseDSN(dsn string) (Config, error) {
	rest, ok := strings.CutPrefix(dsn, "concord://")
	if !ok {
		return Config{}, errors.New("sqldriver: DSN must start with concord:// (concord://host:port[,host:port...]/?level=...)")
	}
	hosts, query, _ := strings.Cut(rest, "?")
	hosts = strings.TrimSuffix(hosts, "/")
	if hosts == "" || strings.Contains(hosts, "/") {
		return Config{}, fmt.Errorf("sqldriver: DSN %q: want member addresses host:port separated by commas before the /", dsn)
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return Config{}, fmt.Errorf("sqldriver: DSN parameters: %w", err)
	}
	cfg := Config{Level: "linearizable", Timeout: DefaultTimeout}
	var tc tlsconfig.Config
	useTLS := false
	for key, vs := range q {
		v := vs[len(vs)-1]
		switch key {
		case "level":
			if !contains(levels, v) {
				return Config{}, fmt.Errorf("sqldriver: DSN level %q: want one of %v", v, levels)
			}
			cfg.Level = v
		case "timeout", "freshness":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return Config{}, fmt.Errorf("sqldriver: DSN %s %q: want a positive duration such as 5s", key, v)
			}
			if key == "timeout" {
				cfg.Timeout = d
			} else {
				cfg.Freshness = d
			}
		case "cacert":
			tc.TrustedCAFile = v
		case "cert":
			tc.CertFile = v
		case "key":
			tc.KeyFile = v
		case "insecure_skip_verify", "tls":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return Config{}, fmt.Errorf("sqldriver: DSN %s %q: want true or false", key, v)
			}
			if key == "tls" {
				useTLS = b
			} else {
				tc.InsecureSkipVerify = b
			}
		default:
			return Config{}, fmt.Errorf("sqldriver: DSN parameter %q is unknown (level, freshness, timeout, cacert, cert, key, insecure_skip_verify, tls)", key)
		}
	}
	if useTLS || tc.ClientEnabled() {
		if cfg.TLS, err = tc.ClientConfig(); err != nil {
			return Config{}, fmt.Errorf("sqldriver: DSN TLS settings: %w", err)
		}
	}
	scheme := "http://"
	if cfg.TLS != nil {
		scheme = "https://"
	}
	for _, h := range strings.Split(hosts, ",") {
		h = strings.TrimSpace(h)
		if h == "" || strings.Contains(h, "://") {
			return Config{}, fmt.Errorf("sqldriver: DSN member %q: want host:port", h)
		}
		cfg.Endpoints = append(cfg.Endpoints, scheme+h)
	}
	return cfg, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
