package snapshot

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/concord-db/concord/node"
)

// FormatVersion is the archive format this package writes, and the newest
// it reads. It is recorded in meta.json as "version".
const FormatVersion = 1

// Names of the archive's members, in the order they appear.
const (
	MetaName   = "meta.json"
	StateName  = "state.bin"
	SumsName   = "SHA256SUMS"
	SealedName = "SHA256SUMS.sealed"
)

// Meta is the content of meta.json, the first member of an archive. It
// describes the state.bin that follows; Verify checks every field that
// state.bin can confirm (index, term, state version, size, sections).
type Meta struct {
	// Version is the archive format version (FormatVersion when written).
	Version int `json:"version"`
	// Index and Term are the last raft log entry included in the state.
	Index uint64 `json:"index"`
	Term  uint64 `json:"term"`
	// StateVersion is the version from state.bin's own header
	// (node/snapfmt.go).
	StateVersion uint16 `json:"state_version"`
	// ClusterID is the id of the cluster the snapshot was taken from, in hex,
	// as chosen by its first leader ("0" if it had none yet).
	ClusterID string `json:"cluster_id"`
	// Members is the cluster's configuration when the snapshot was written.
	Members []Member `json:"members"`
	// Size is the length of state.bin in bytes.
	Size int64 `json:"size"`
	// Created is when the archive was written, as given by the caller.
	Created time.Time `json:"created"`
	// Sealed says whether the archive carries SHA256SUMS.sealed.
	Sealed bool `json:"sealed"`
	// Sections lists state.bin's sections in order, as ScanSnapshot reports
	// them: one per state machine, the node's own (type 0) first.
	Sections []Section `json:"sections"`
}

// Member is one server of the cluster's configuration.
type Member struct {
	ID       string `json:"id"`
	PeerAddr string `json:"peer_addr"`
	Voter    bool   `json:"voter"`
}

// Section describes one section of state.bin.
type Section struct {
	// Type is the state machine type (node.Type): 0 node, 1 kv, 2 resource,
	// 3 sql, 64 and up embedding applications.
	Type uint8 `json:"type"`
	// Name is Type's well-known name, for people reading meta.json; it is
	// informational and not verified.
	Name string `json:"name"`
	// Bytes is the section's payload size, without framing.
	Bytes int64 `json:"bytes"`
}

// SectionName returns the well-known name of a state machine type.
func SectionName(t uint8) string {
	switch node.Type(t) {
	case 0:
		return "node"
	case node.TypeKV:
		return "kv"
	case node.TypeResource:
		return "resource"
	case node.TypeSQL:
		return "sql"
	case node.TypeAuth:
		return "auth"
	}
	if node.Type(t) >= node.TypeUser {
		return fmt.Sprintf("user-%d", t)
	}
	return fmt.Sprintf("type-%d", t)
}

func sectionsFrom(infos []node.SectionInfo) []Section {
	out := make([]Section, len(infos))
	for i, s := range infos {
		out[i] = Section{Type: uint8(s.Type), Name: SectionName(uint8(s.Type)), Bytes: s.Bytes}
	}
	return out
}

// Archive describes a whole archive file: its metadata, its size and its
// checksum. Write and Verify return one.
type Archive struct {
	Meta Meta
	size int64
	sum  [sha256.Size]byte
}

// Checksum returns the sha-256 of the whole archive file in Consul's
// "sha-256=<base64>" form.
func (a *Archive) Checksum() string {
	return "sha-256=" + base64.StdEncoding.EncodeToString(a.sum[:])
}

// Size returns the archive file's size in bytes.
func (a *Archive) Size() int64 { return a.size }

// Index returns the raft index of the snapshot inside.
func (a *Archive) Index() uint64 { return a.Meta.Index }

// sumsFile renders SHA256SUMS in sha256sum's format: hex digest, two spaces,
// name, newline, one line per member.
func sumsFile(metaSum, stateSum []byte) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(metaSum), MetaName)
	fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(stateSum), StateName)
	return []byte(b.String())
}

// parseSums parses SHA256SUMS into name -> digest; it accepts exactly the
// lines sumsFile writes, in any order, and nothing else.
func parseSums(b []byte) (map[string][]byte, error) {
	sums := make(map[string][]byte, 2)
	lines := strings.Split(string(b), "\n")
	if len(lines) == 0 || lines[len(lines)-1] != "" {
		return nil, fmt.Errorf("does not end with a newline")
	}
	for i, line := range lines[:len(lines)-1] {
		hexSum, name, ok := strings.Cut(line, "  ")
		if !ok || len(hexSum) != 2*sha256.Size {
			return nil, fmt.Errorf("line %d is not \"<sha-256 hex>  <name>\"", i+1)
		}
		sum, err := hex.DecodeString(hexSum)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", i+1, err)
		}
		if name != MetaName && name != StateName {
			return nil, fmt.Errorf("line %d names unexpected member %q", i+1, name)
		}
		if _, dup := sums[name]; dup {
			return nil, fmt.Errorf("%s listed twice", name)
		}
		sums[name] = sum
	}
	for _, name := range []string{MetaName, StateName} {
		if sums[name] == nil {
			return nil, fmt.Errorf("%s is not listed", name)
		}
	}
	return sums, nil
}
