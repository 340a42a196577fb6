package sqlstore

import (
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want string // substring of the error; "" for valid
	}{
		{"defaults", Config{Dir: "x"}, ""},
		{"no dir", Config{}, "Dir is required"},
		{"negative timeout", Config{Dir: "x", QueryTimeout: -1}, "QueryTimeout"},
		{"negative result cap", Config{Dir: "x", MaxResultBytes: -1}, "MaxResultBytes"},
		{"negative statements", Config{Dir: "x", MaxStatements: -1}, "MaxStatements"},
		{"negative conns", Config{Dir: "x", ReadConns: -1}, "ReadConns"},
		{"negative command cap", Config{Dir: "x", MaxCommandBytes: -1}, "MaxCommandBytes"},
		{"negative load cap", Config{Dir: "x", MaxLoadBytes: -1}, "MaxLoadBytes"},
	}
	for _, c := range cases {
		err := c.cfg.Validate()
		if c.want == "" && err != nil {
			t.Errorf("%s: unexpected error %v", c.name, err)
		}
		if c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: error %v, want one mentioning %q", c.name, err, c.want)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	cfg := Config{Dir: "x"}.withDefaults()
	if cfg.QueryTimeout != DefaultQueryTimeout || cfg.MaxResultBytes != DefaultMaxResultBytes ||
		cfg.MaxStatements != DefaultMaxStatements || cfg.ReadConns != DefaultReadConns || cfg.Logger == nil ||
		cfg.MaxCommandBytes != DefaultMaxCommandBytes || cfg.MaxLoadBytes != DefaultMaxLoadBytes {
		t.Fatalf("defaults not applied: %+v", cfg)
	}
}

func TestParseLevel(t *testing.T) {
	for _, l := range []Level{LevelNone, LevelWeak, LevelLinearizable, LevelStrong} {
		got, err := ParseLevel(l.String())
		if err != nil || got != l {
			t.Errorf("ParseLevel(%q) = %v, %v", l.String(), got, err)
		}
	}
	if _, err := ParseLevel("auto"); err == nil {
		t.Error("ParseLevel(auto) succeeded, want an error")
	}
}
