package kaconf

import (
	"fmt"
	"strings"
)

// splitQuoted splits s as keepalived's alloc_strvec_quoted_escaped(): at
// blanks, with "..." and '...' quoting (the quotes removed, blanks inside
// kept) and backslash escapes (\n \t \r \a \b \E \f \v, \NNN octal, \xHH
// hex, \cC control characters, \C for any other C) inside and outside
// quotes. keepalived uses it for scripts and their arguments.
func splitQuoted(s string) ([]string, error) {
	var words []string
	const blanks = " \t\f\n\r\v"
	i := 0
	for {
		for i < len(s) && strings.IndexByte(blanks, s[i]) >= 0 {
			i++
		}
		if i >= len(s) {
			return words, nil
		}
		var b strings.Builder
		var quote byte
		for i < len(s) {
			c := s[i]
			switch {
			case c == '\\':
				i++
				if i >= len(s) {
					return words, fmt.Errorf("backslash at the end of %q", s)
				}
				n := unescape(s, &i)
				b.WriteByte(n)
				continue
			case quote != 0 && c == quote:
				quote = 0
				i++
				continue
			case quote != 0:
				b.WriteByte(c)
				i++
				continue
			case c == '"' || c == '\'':
				quote = c
				i++
				continue
			case strings.IndexByte(blanks, c) >= 0:
			default:
				b.WriteByte(c)
				i++
				continue
			}
			break
		}
		if quote != 0 {
			return words, fmt.Errorf("missing closing %c in %q", quote, s)
		}
		words = append(words, b.String())
	}
}

// unescape decodes the escape after a backslash at s[*i] and advances *i.
func unescape(s string, i *int) byte {
	c := s[*i]
	switch {
	case c == 'x' && *i+1 < len(s) && isHex(s[*i+1]):
		*i++
		var v byte
		for *i < len(s) && isHex(s[*i]) {
			v = v<<4 | hexVal(s[*i])
			*i++
		}
		return v
	case c == 'c' && *i+1 < len(s):
		v := s[*i+1] & 0x1f
		*i += 2
		return v
	case c >= '0' && c <= '7':
		v := c - '0'
		*i++
		for k := 0; k < 2 && *i < len(s) && s[*i] >= '0' && s[*i] <= '7'; k++ {
			v = v<<3 | (s[*i] - '0')
			*i++
		}
		return v
	}
	*i++
	switch c {
	case 'a':
		return '\a'
	case 'b':
		return '\b'
	case 'E':
		return 0x1b
	case 'f':
		return '\f'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 'v':
		return '\v'
	}
	return c
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func hexVal(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// script is a command as keepalived reads it for notify scripts, vrrp
// scripts and MISC_CHECK: the keyword's line re-split with quoting, its
// first argument split again into the program and its arguments, and an
// optional user and group after it.
type script struct {
	argv        []string
	user, group string
}

// scriptOf parses a script statement ("notify_master "/bin/x a b" user").
func scriptOf(n *Node) (script, error) {
	words, err := splitQuoted(n.Raw)
	if err != nil {
		return script{}, err
	}
	if len(words) < 2 || strings.TrimSpace(words[1]) == "" {
		return script{}, fmt.Errorf("%s needs a command", n.Keyword())
	}
	argv, err := splitQuoted(words[1])
	if err != nil {
		return script{}, err
	}
	if len(argv) == 0 {
		return script{}, fmt.Errorf("%s needs a command", n.Keyword())
	}
	s := script{argv: argv}
	if len(words) > 2 {
		s.user = words[2]
	}
	if len(words) > 3 {
		s.group = words[3]
	}
	return s, nil
}

// shellMeta reports whether a command looks like a shell line (keepalived
// 2 runs scripts without a shell, so these never worked as intended).
func shellMeta(argv []string) bool {
	for _, a := range argv {
		if strings.ContainsAny(a, "|&;<>`") || strings.Contains(a, "$(") {
			return true
		}
	}
	return false
}

// parseHexBytes reads keepalived's free-form hex strings (UDP_CHECK payload
// and require_reply): hex digits in blank-separated groups, read in pairs;
// a group's odd last digit is a byte of its own ("Ab12f 3 456" is ab 12
// 0f 03 45 06). 'X' or 'x' digits are wildcards when wild is set: the
// mask then has those nibbles cleared.
func parseHexBytes(s string, wild bool) (data, mask []byte, err error) {
	for _, g := range strings.Fields(s) {
		if len(g)%2 == 1 {
			g = g[:len(g)-1] + "0" + g[len(g)-1:]
		}
		for i := 0; i < len(g); i += 2 {
			var v, m byte
			for _, c := range []byte{g[i], g[i+1]} {
				v, m = v<<4, m<<4
				switch {
				case isHex(c):
					v |= hexVal(c)
					m |= 0xf
				case wild && (c == 'x' || c == 'X'):
				default:
					return nil, nil, fmt.Errorf("%q is not hexadecimal", g)
				}
			}
			data = append(data, v)
			mask = append(mask, m)
		}
	}
	return data, mask, nil
}
