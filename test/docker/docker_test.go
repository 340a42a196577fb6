// Package docker runs concord as containers of the FROM scratch image
// (deploy/Dockerfile): the compose cluster of deploy/compose.yaml, and a
// three-member cluster on a private network with faults injected by docker
// itself (network disconnect/connect, pause/unpause, kill and restart),
// checked for linearizability and lost writes. The tests skip, saying why,
// where no docker engine is reachable.
package docker

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	lin "github.com/concord-db/concord/test/linearizability"
)

var (
	image     string // built by TestMain, "" when docker is unavailable
	skipWhy   string
	repoRoot  string
	startedAt = time.Now()
)

func TestMain(m *testing.M) {
	wd, _ := os.Getwd()
	repoRoot = filepath.Join(wd, "..", "..")
	code := setupAndRun(m)
	lin.PrintSummary("containers", time.Since(startedAt))
	os.Exit(code)
}

func setupAndRun(m *testing.M) int {
	if err := exec.Command("docker", "info").Run(); err != nil {
		skipWhy = fmt.Sprintf("no docker engine reachable (docker info: %v)", err)
		fmt.Println("test/docker: skipping:", skipWhy)
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "concord-docker-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	build := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(dir, "concord"), "./cmd/concord")
	build.Dir = repoRoot
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the static binary: %v\n%s", err, out)
		return 1
	}
	image = fmt.Sprintf("concord-test:%d", os.Getpid())
	if out, err := exec.Command("docker", "build", "-q", "-f", filepath.Join(repoRoot, "deploy", "Dockerfile"), "-t", image, dir).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "docker build: %v\n%s", err, out)
		return 1
	}
	defer exec.Command("docker", "rmi", "-f", image).Run()
	return m.Run()
}

func needDocker(t *testing.T) {
	t.Helper()
	if image == "" {
		t.Skip(skipWhy)
	}
}

// docker runs a docker command and returns its trimmed stdout.
func docker(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

// compose returns the compose command: `docker compose` or docker-compose.
func compose(t *testing.T) []string {
	if exec.Command("docker", "compose", "version").Run() == nil {
		return []string{"docker", "compose"}
	}
	if p, err := exec.LookPath("docker-compose"); err == nil {
		return []string{p}
	}
	t.Skip("neither `docker compose` nor docker-compose is installed")
	return nil
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// waitReady polls addr's /readyz until it answers 200 or the deadline.
func waitReady(t *testing.T, addr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	var last error
	for time.Now().Before(deadline) {
		resp, err := client.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		last = err
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s not ready after %s: %v", addr, timeout, last)
}

// subnet picks a private /24 for a test network.
func subnet(rng *rand.Rand) (string, string) {
	b := 16 + rng.Intn(16)
	c := rng.Intn(256)
	return fmt.Sprintf("172.%d.%d.0/24", b, c), fmt.Sprintf("172.%d.%d.", b, c)
}
