package main

import (
	"time"

	"github.com/concord-db/concord/auth"
	"github.com/spf13/pflag"
	"golang.org/x/crypto/bcrypt"
)

// agentAuthOptions are the agent's authentication flags, with etcd's
// names and defaults. Auth itself starts disabled: `concord auth enable`
// or `etcdctl auth enable` turns it on for the cluster.
type agentAuthOptions struct {
	token      string
	tokenTTL   uint
	bcryptCost int
}

func (o *agentAuthOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&o.token, "auth-token", "simple", `token type: "simple" (random tokens issued through the log) or "jwt,pub-key=PATH,priv-key=PATH,sign-method=RS256,ttl=5m" (etcd's)`)
	f.UintVar(&o.tokenTTL, "auth-token-ttl", uint(auth.DefaultTokenTTL/time.Second), "seconds a simple token lives without use (etcd's --auth-token-ttl)")
	f.IntVar(&o.bcryptCost, "bcrypt-cost", bcrypt.DefaultCost, "cost of password hashes, 4 to 31 (etcd's --bcrypt-cost)")
}

// config checks the flags and returns the auth settings.
func (o *agentAuthOptions) config() (auth.Config, error) {
	cfg := auth.Config{Token: o.token, TokenTTL: time.Duration(o.tokenTTL) * time.Second, BcryptCost: o.bcryptCost}
	if o.tokenTTL == 0 {
		cfg.TokenTTL = auth.DefaultTokenTTL
	}
	return cfg, cfg.Validate()
}
