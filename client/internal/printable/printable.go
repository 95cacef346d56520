// Package printable makes text from servers safe to print on a terminal.
//
// A status line, an error message or a response body written raw can carry
// terminal escape sequences: ESC [ 2 J clears the screen, OSC 52 writes the
// clipboard, CR rewinds a line so that what follows hides what was printed
// before. Everything the CLI prints that a server chose (Firebase Auth's and
// the gateway's messages, status lines, headers, response bodies on a
// terminal) goes through Line or Text, which show each control character as
// a visible escape (\x1b, \u009b) instead of sending it to the terminal.
package printable

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Line escapes every control character, newlines and tabs included: the
// result is one line of visible text.
func Line(s string) string { return escape(s, false) }

// Text escapes control characters but keeps newlines and tabs (and the CR
// of a CRLF), so multi-line text keeps its layout.
func Text(s string) string { return escape(s, true) }

func escape(s string, layout bool) string {
	if safe(s, layout) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1: // not UTF-8: a lone byte (0x9b is CSI to some terminals)
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case layout && (r == '\n' || r == '\t' || (r == '\r' && strings.HasPrefix(s[i+1:], "\n"))):
			b.WriteRune(r)
		case unicode.IsControl(r) && r < utf8.RuneSelf:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unicode.IsControl(r): // C1 controls (U+0080-U+009F)
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// safe reports whether s needs no escaping (the common case: no copy).
func safe(s string, layout bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return false // decided rune by rune
		}
		if c < 0x20 || c == 0x7f {
			if layout && (c == '\n' || c == '\t') {
				continue
			}
			return false
		}
	}
	return true
}
