package main

import (
	"strings"
	"unicode"
)

// splitStatements cuts text into complete SQL statements, each ending
// with a ';' outside quotes, identifiers and comments, and returns the
// incomplete remainder. In CREATE TRIGGER only the ';' after the body's
// END ends the statement, as in sqlite3's shell.
func splitStatements(text string) (stmts []string, rest string) {
	const (
		normal = iota
		quoted // inside '...', "...", `...` or [...]
		lineComment
		blockComment
	)
	state, closer := normal, rune(0)
	start := 0
	var words []string // the statement's first words, upper case
	lastWord, word := "", strings.Builder{}
	endWord := func() {
		if word.Len() == 0 {
			return
		}
		lastWord = strings.ToUpper(word.String())
		if len(words) < 3 {
			words = append(words, lastWord)
		}
		word.Reset()
	}
	runes := []rune(text)
	offsets := make([]int, len(runes)+1)
	for i, off := 0, 0; i < len(runes); i++ {
		offsets[i] = off
		off += len(string(runes[i]))
		offsets[i+1] = off
	}
	for i := 0; i < len(runes); i++ {
		c := runes[i]
		next := rune(0)
		if i+1 < len(runes) {
			next = runes[i+1]
		}
		switch state {
		case quoted:
			if c == closer {
				if closer != ']' && next == closer { // a doubled quote is the quote itself
					i++
				} else {
					state = normal
				}
			}
			continue
		case lineComment:
			if c == '\n' {
				state = normal
			}
			continue
		case blockComment:
			if c == '*' && next == '/' {
				state, i = normal, i+1
			}
			continue
		}
		if unicode.IsLetter(c) || unicode.IsDigit(c) || c == '_' {
			word.WriteRune(c)
			continue
		}
		endWord()
		switch {
		case c == '\'' || c == '"' || c == '`':
			state, closer = quoted, c
		case c == '[':
			state, closer = quoted, ']'
		case c == '-' && next == '-':
			state, i = lineComment, i+1
		case c == '/' && next == '*':
			state, i = blockComment, i+1
		case c == ';':
			if isTrigger(words) && lastWord != "END" {
				continue
			}
			if s := strings.TrimSpace(text[offsets[start]:offsets[i+1]]); s != ";" {
				stmts = append(stmts, s)
			}
			start, words, lastWord = i+1, nil, ""
		}
	}
	return stmts, strings.TrimSpace(text[offsets[start]:])
}

// isTrigger tells whether a statement's first words begin CREATE TRIGGER.
func isTrigger(words []string) bool {
	if len(words) < 2 || words[0] != "CREATE" {
		return false
	}
	if words[1] == "TRIGGER" {
		return true
	}
	return len(words) > 2 && (words[1] == "TEMP" || words[1] == "TEMPORARY") && words[2] == "TRIGGER"
}
