package cmdutil

import (
	"bufio"
	"bytes"
	"strings"
)

// TestIO is an IO for tests (as gh's iostreams.Test): stdin reads in, the
// returned buffers collect stdout and stderr, nothing is a terminal.
func TestIO(in string) (streams *IO, stdout, stderr *bytes.Buffer) {
	stdout, stderr = &bytes.Buffer{}, &bytes.Buffer{}
	no := func() bool { return false }
	return &IO{In: bufio.NewReader(strings.NewReader(in)), Out: stdout, ErrOut: stderr,
		InIsTerminal: no, OutIsTerminal: no, ReadPassword: func() ([]byte, error) { return nil, nil }}, stdout, stderr
}
