// Package tlstest makes certificate authorities and certificates with the
// openssl commands docs/security.md shows, for tests of concord's TLS.
package tlstest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// CA is a certificate authority on disk.
type CA struct {
	Dir  string
	Name string
	// CertFile is the CA's certificate, the file given as a trusted CA.
	CertFile string
	keyFile  string
}

// Cert is a certificate signed by a CA, with its key.
type Cert struct {
	CertFile, KeyFile string
}

// NewCA makes a self-signed CA named name in dir.
func NewCA(t testing.TB, dir, name string) *CA {
	t.Helper()
	ca := &CA{Dir: dir, Name: name, CertFile: filepath.Join(dir, name+".crt"), keyFile: filepath.Join(dir, name+".key")}
	run(t, dir, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
		"-keyout", ca.keyFile, "-out", ca.CertFile, "-days", "365", "-subj", "/CN="+name)
	return ca
}

// Issue makes a certificate for common name cn with the given subject
// alternative names ("IP:127.0.0.1", "DNS:localhost"), usable by servers
// and clients both, written as <file>.crt and <file>.key in the CA's dir.
func (ca *CA) Issue(t testing.TB, file, cn string, sans ...string) Cert {
	t.Helper()
	c := Cert{CertFile: filepath.Join(ca.Dir, file+".crt"), KeyFile: filepath.Join(ca.Dir, file+".key")}
	csr := filepath.Join(ca.Dir, file+".csr")
	ext := filepath.Join(ca.Dir, file+".ext")
	lines := []string{"extendedKeyUsage=serverAuth,clientAuth"}
	if len(sans) > 0 {
		lines = append(lines, "subjectAltName="+strings.Join(sans, ","))
	}
	if err := os.WriteFile(ext, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, ca.Dir, "openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
		"-keyout", c.KeyFile, "-out", csr, "-subj", "/CN="+cn)
	run(t, ca.Dir, "openssl", "x509", "-req", "-in", csr, "-CA", ca.CertFile, "-CAkey", ca.keyFile,
		"-CAcreateserial", "-out", c.CertFile, "-days", "365", "-extfile", ext)
	return c
}

// Local issues a certificate for 127.0.0.1 and localhost.
func (ca *CA) Local(t testing.TB, file, cn string) Cert {
	t.Helper()
	return ca.Issue(t, file, cn, "IP:127.0.0.1", "DNS:localhost")
}

// CopyTo replaces dst's files with c's, as an operator rotating
// certificates does (write aside, then rename over).
func (c Cert) CopyTo(t testing.TB, dst Cert) {
	t.Helper()
	copyFile(t, c.KeyFile, dst.KeyFile)
	copyFile(t, c.CertFile, dst.CertFile)
}

// CopyFile replaces dst with src's content by rename.
func CopyFile(t testing.TB, src, dst string) { t.Helper(); copyFile(t, src, dst) }

func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
}

func run(t testing.TB, dir, name string, args ...string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s is needed to make test certificates: %v", name, err)
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}
