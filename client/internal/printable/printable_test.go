package printable

import "testing"

func TestLine(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text, ünïcode ✓", "plain text, ünïcode ✓"},
		{"\x1b[2Jcleared", `\x1b[2Jcleared`},
		{"\x1b]52;c;cHduZWQ=\x07", `\x1b]52;c;cHduZWQ=\x07`}, // OSC 52: writes the clipboard
		{"ok\rFAKE", `ok\x0dFAKE`},
		{"two\nlines\ttab", `two\x0alines\x09tab`},
		{"del\x7f", `del\x7f`},
		{"c1 \u009b31m", `c1 \u009b31m`}, // CSI as a UTF-8 encoded C1 control
		{"raw \x9b31m", `raw \x9b31m`},   // CSI as a lone 8-bit byte
		{"cut \xe2\x9c", `cut \xe2\x9c`}, // truncated UTF-8
		{"", ""},
	}
	for _, tt := range tests {
		if got := Line(tt.in); got != tt.want {
			t.Errorf("Line(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"{\n\t\"a\": 1\n}\n", "{\n\t\"a\": 1\n}\n"},
		{"crlf\r\nkept", "crlf\r\nkept"},
		{"lone\rCR", `lone\x0dCR`},
		{"end\r", `end\x0d`},
		{"\x1b[31mred\x1b[0m\n", `\x1b[31mred\x1b[0m` + "\n"},
	}
	for _, tt := range tests {
		if got := Text(tt.in); got != tt.want {
			t.Errorf("Text(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
