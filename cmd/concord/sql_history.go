package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
)

// maxSQLHistory bounds the lines kept in memory and loaded from the file.
const maxSQLHistory = 1000

// sqlHistory is the shell's line history (term.History), kept in memory
// and appended to a file so it survives sessions. A file that cannot be
// read or written leaves the history in memory only.
type sqlHistory struct {
	lines []string // oldest first
	path  string
}

// sqlHistoryPath is ~/.concord_sql_history, or "" without a home.
func sqlHistoryPath() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".concord_sql_history")
}

// loadSQLHistory reads the last maxSQLHistory lines of path.
func loadSQLHistory(path string) *sqlHistory {
	h := &sqlHistory{path: path}
	f, err := os.Open(path)
	if err != nil {
		return h
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		h.lines = append(h.lines, sc.Text())
		if len(h.lines) > 2*maxSQLHistory {
			h.lines = append([]string(nil), h.lines[len(h.lines)-maxSQLHistory:]...)
		}
	}
	if len(h.lines) > maxSQLHistory {
		h.lines = h.lines[len(h.lines)-maxSQLHistory:]
	}
	return h
}

// Add records a line, skipping blanks and repeats of the last line.
func (h *sqlHistory) Add(line string) {
	if strings.TrimSpace(line) == "" || (len(h.lines) > 0 && h.lines[len(h.lines)-1] == line) {
		return
	}
	h.lines = append(h.lines, line)
	if len(h.lines) > maxSQLHistory {
		h.lines = h.lines[1:]
	}
	if h.path == "" {
		return
	}
	f, err := os.OpenFile(h.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		h.path = "" // in memory from now on
		return
	}
	defer f.Close()
	if _, err := f.WriteString(line + "\n"); err != nil {
		h.path = ""
	}
}

func (h *sqlHistory) Len() int { return len(h.lines) }

// At returns the idx-th most recent line.
func (h *sqlHistory) At(idx int) string { return h.lines[len(h.lines)-1-idx] }
