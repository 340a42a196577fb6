package faultproxy

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// identifyByProc finds the registered member whose process holds the
// dialing end of an accepted loopback connection: /proc/net/tcp maps the
// dialer's (local, remote) address pair to a socket inode, and
// /proc/PID/fd says which process holds it.
func (n *Network) identifyByProc(remote, local net.Addr) string {
	n.mu.Lock()
	pids := make(map[string]int, len(n.pids))
	for id, pid := range n.pids {
		pids[id] = pid
	}
	n.mu.Unlock()
	for attempt := 0; attempt < 3; attempt++ {
		if attempt > 0 {
			time.Sleep(10 * time.Millisecond)
		}
		inode, ok := socketInode(remote, local)
		if !ok {
			continue
		}
		for id, pid := range pids {
			if holds(pid, inode) {
				return id
			}
		}
	}
	return ""
}

// procAddr renders a TCP address as /proc/net/tcp prints it: the IPv4
// address as a native-endian word in hex, a colon, the port in hex.
func procAddr(a net.Addr) (string, bool) {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return "", false
	}
	ip4 := ta.IP.To4()
	if ip4 == nil {
		return "", false
	}
	return fmt.Sprintf("%08X:%04X", binary.NativeEndian.Uint32(ip4), ta.Port), true
}

// socketInode is the inode of the socket whose local address is local and
// remote address remote, from /proc/net/tcp.
func socketInode(local, remote net.Addr) (string, bool) {
	l, ok1 := procAddr(local)
	r, ok2 := procAddr(remote)
	if !ok1 || !ok2 {
		return "", false
	}
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return "", false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		// sl local rem st tx:rx tr:when retrnsmt uid timeout inode
		if len(fs) >= 10 && fs[1] == l && fs[2] == r {
			return fs[9], fs[9] != "0"
		}
	}
	return "", false
}

// holds reports whether process pid has the socket inode open.
func holds(pid int, inode string) bool {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	want := "socket:[" + inode + "]"
	for _, e := range ents {
		if target, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && target == want {
			return true
		}
	}
	return false
}
