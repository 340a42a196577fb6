package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"sync"
	"time"
)

// checkInterval bounds how often the files' metadata is looked at.
const checkInterval = time.Second

// files holds a certificate pair and a CA pool loaded from disk and re-reads
// them when a file's identity, size or modification time changes. A change
// that does not parse (say, the certificate written before its key) keeps
// the last good material and is retried at the next check.
type files struct {
	certFile, keyFile, caFile string

	mu      sync.Mutex
	checked time.Time
	stats   [3]os.FileInfo
	cert    *tls.Certificate
	pool    *x509.CertPool
	lastErr error
}

func newFiles(certFile, keyFile, caFile string) (*files, error) {
	f := &files{certFile: certFile, keyFile: keyFile, caFile: caFile}
	stats := f.stat()
	if err := f.load(stats); err != nil {
		return nil, err
	}
	f.checked = time.Now()
	return f, nil
}

func (f *files) paths() [3]string { return [3]string{f.certFile, f.keyFile, f.caFile} }

func (f *files) stat() [3]os.FileInfo {
	var out [3]os.FileInfo
	for i, p := range f.paths() {
		if p != "" {
			out[i], _ = os.Stat(p)
		}
	}
	return out
}

func (f *files) load(stats [3]os.FileInfo) error {
	var cert *tls.Certificate
	if f.certFile != "" {
		c, err := tls.LoadX509KeyPair(f.certFile, f.keyFile)
		if err != nil {
			return fmt.Errorf("%w: load certificate %s and key %s: %w", ErrInvalid, f.certFile, f.keyFile, err)
		}
		cert = &c
	}
	var pool *x509.CertPool
	if f.caFile != "" {
		pem, err := os.ReadFile(f.caFile)
		if err != nil {
			return fmt.Errorf("%w: read trusted CA file: %w", ErrInvalid, err)
		}
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("%w: no PEM certificate in trusted CA file %s", ErrInvalid, f.caFile)
		}
	}
	f.cert, f.pool, f.stats = cert, pool, stats
	return nil
}

func changed(a, b os.FileInfo) bool {
	if a == nil || b == nil {
		return a != b
	}
	return !os.SameFile(a, b) || a.Size() != b.Size() || !a.ModTime().Equal(b.ModTime())
}

// current returns the certificate and pool, reloading them first if a
// file changed since the last look (at most once per checkInterval).
func (f *files) current() (*tls.Certificate, *x509.CertPool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	if now.Sub(f.checked) < checkInterval {
		return f.cert, f.pool
	}
	f.checked = now
	stats := f.stat()
	for i := range stats {
		if changed(stats[i], f.stats[i]) {
			f.lastErr = f.load(stats)
			break
		}
	}
	return f.cert, f.pool
}

// LastReloadError is the error of the last failed reload, if the files
// on disk are currently unusable (the previous material is still served).
func (f *files) LastReloadError() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastErr
}
