package resource

import (
	"regexp"
	"testing"
)

// The regular expressions the byte loops replaced, kept here as the
// reference they must agree with.
var (
	refLabel        = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)
	refGroup        = regexp.MustCompile(groupPattern)
	refGroupVersion = regexp.MustCompile(groupVersionPattern)
	refKind         = regexp.MustCompile(kindPattern)
)

// checkMatchers fails t if any byte loop disagrees with its expression on s.
func checkMatchers(t *testing.T, s string) {
	t.Helper()
	for _, m := range []struct {
		name string
		re   *regexp.Regexp
		f    func(string) bool
	}{
		{"label", refLabel, isLabel},
		{"group", refGroup, isGroup},
		{"group_version", refGroupVersion, isGroupVersion},
		{"kind", refKind, isKind},
	} {
		if want, got := m.re.MatchString(s), m.f(s); want != got {
			t.Errorf("%s(%q) = %v, the regular expression says %v", m.name, s, got, want)
		}
	}
}

var matcherSeeds = []string{
	"", "a", "-", "a-", "-a", "a-b", "ab", "A", "Ab", "AB", "A1", "a1", "1a", "v", "v1", "va", "v1a", "v2beta1",
	"vv1", "V1", "v_1", "a_b", "_a", "a\n", "a\x00", "é", "aé", "Ab\n", "v1\n", "abc-def-123", "demo", "Artist", "Kind_",
	"0123456789012345678901234567890123456789012345678901234567890123", // 64
	"012345678901234567890123456789012345678901234567890123456789012",  // 63
	"01234567890123456789012345678901234567890123456789012345678901-",  // 63, ends in '-'
}

func TestMatchersAgreeWithRegexps(t *testing.T) {
	for _, s := range matcherSeeds {
		checkMatchers(t, s)
	}
	// Every string of up to 3 bytes over an alphabet covering each class
	// boundary.
	alpha := []byte("aAzZ09_-v`{@[/:\n\xc3")
	var rec func(prefix []byte)
	rec = func(prefix []byte) {
		checkMatchers(t, string(prefix))
		if len(prefix) == 3 {
			return
		}
		for _, c := range alpha {
			rec(append(prefix, c))
		}
	}
	rec(nil)
}

func FuzzMatchers(f *testing.F) {
	for _, s := range matcherSeeds {
		f.Add(s)
	}
	f.Fuzz(checkMatchers)
}
