package resource

// Byte-loop matchers for the ID patterns (see validate.go). Each accepts
// exactly the strings its regular expression accepts; FuzzMatchers checks
// them against the expressions on random input.

// isLabel reports whether s matches ^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$:
// 1 to 63 of lower case letters, digits and '-', not starting or ending
// with '-'.
func isLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isLowerDigit(c) && c != '-' {
			return false
		}
	}
	return true
}

// isGroup reports whether s matches ^[a-z][a-z\d_]+$.
func isGroup(s string) bool {
	if len(s) < 2 || !isLower(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isLowerDigit(c) && c != '_' {
			return false
		}
	}
	return true
}

// isGroupVersion reports whether s matches ^v([a-z\d]+)?\d$: a 'v', then
// lower case letters and digits, ending in a digit.
func isGroupVersion(s string) bool {
	if len(s) < 2 || s[0] != 'v' || !isDigit(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isLowerDigit(s[i]) {
			return false
		}
	}
	return true
}

// isKind reports whether s matches ^[A-Z][A-Za-z\d]+$.
func isKind(s string) bool {
	if len(s) < 2 || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isLowerDigit(c) && (c < 'A' || c > 'Z') {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isLower(c byte) bool      { return c >= 'a' && c <= 'z' }
func isLowerDigit(c byte) bool { return isLower(c) || isDigit(c) }
