package call

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/gatehouse/gatehouse/client/internal/cmdutil"
	"github.com/gatehouse/gatehouse/client/internal/printable"
	"github.com/gatehouse/gatehouse/client/internal/session"
	"github.com/gatehouse/gatehouse/client/internal/target"
)

type response struct {
	status     int
	statusLine string
	body       []byte
}

func send(ctx context.Context, opts *Options, t target.Target, body []byte, token string) (*response, error) {
	url := t.GatewayURL + opts.Path
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, opts.Method, url, r)
	if err != nil {
		return nil, cmdutil.Usagef("bad URL %q: %v", url, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("User-Agent", "gatehouse-cli")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	errOut := opts.IO.ErrOut
	if opts.Verbose {
		fmt.Fprintf(errOut, "> %s %s\n", opts.Method, printable.Line(url))
		writeHeaders(errOut, "> ", req.Header)
	}
	res, err := opts.HTTPClient().Do(req)
	var redirect *session.RedirectError
	if errors.As(err, &redirect) {
		if opts.Verbose && res != nil {
			fmt.Fprintf(errOut, "< %s %s\n", res.Proto, printable.Line(res.Status))
		}
		return nil, redirect
	}
	if err != nil {
		return nil, fmt.Errorf("cannot reach the gateway at %s (%s): %v", url, source(t), errors.Unwrap(err))
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 32<<20))
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	if opts.Verbose {
		fmt.Fprintf(errOut, "< %s %s\n", res.Proto, printable.Line(res.Status))
		writeHeaders(errOut, "< ", res.Header)
	}
	return &response{status: res.StatusCode, statusLine: res.Status, body: b}, nil
}

// source says where the gateway URL came from and what to change: after a
// deploy, a GATEHOUSE_GATEWAY_URL left over from the twin is the usual
// cause of an unreachable gateway.
func source(t target.Target) string {
	switch t.GatewayFrom {
	case target.FromEnv:
		return target.GatewayVar + " is set: unset it to use the stack's gatewayUrl output, or start the twin with `make local`"
	case "":
		return "gateway URL"
	}
	return "from " + t.GatewayFrom
}

var redacted = map[string]bool{"Authorization": true, "X-Forwarded-Authorization": true, "Proxy-Authorization": true, "Cookie": true, "Set-Cookie": true}

func writeHeaders(w io.Writer, prefix string, h http.Header) {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			switch ck := http.CanonicalHeaderKey(k); {
			case ck == "Cookie" || ck == "Set-Cookie":
				v = "REDACTED" // names and values alike: a cookie's name can say what it holds
			case redacted[ck]:
				scheme, _, _ := strings.Cut(v, " ")
				v = scheme + " REDACTED"
			}
			fmt.Fprintf(w, "%s%s: %s\n", prefix, printable.Line(k), printable.Line(v))
		}
	}
}
