package gateway

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/spec"
)

// TestMethodOverrideFraming sends raw keep-alive requests over one TCP
// connection: X-HTTP-Method-Override changes the method routed and
// forwarded, never how the response is framed, which follows the method
// the client sent (RFC 9112 section 6.3). A HEAD answered with a body, or
// an OPTIONS answered as if it were a HEAD, desynchronises the connection:
// the next response on it is then unreadable, or the client waits for a
// body that never comes.
func TestMethodOverrideFraming(t *testing.T) {
	kr := newKeyring(t)
	h := newHarness(t, kr, Options{}, nil)
	secured := [][]string{{"firebase"}}
	doc := &spec.Document{
		Backend: spec.Backend{Address: h.backend.URL + "/base", PathTranslation: spec.AppendPathToAddress},
		Issuers: map[string]spec.Issuer{"firebase": {Name: "firebase", Issuer: fbIssuer, JWKSURI: h.jwks.URL + "/fb", Audiences: []string{fbAudience}}},
		Operations: []spec.Operation{
			{ID: "hello", Method: "GET", Path: "/v1/hello", Security: secured},
			{ID: "peek", Method: "HEAD", Path: "/v1/peek", Security: secured},
		},
	}
	g, err := New(doc, Options{KeyClient: h.jwks.Client(), Now: func() time.Time { return h.now }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	defer srv.Close()
	tok := h.good(nil)

	const backendBody = `{"from":"backend"}`
	cases := []struct {
		name, method, path, override string
		status                       int
		body                         string // what the client must read as the body
	}{
		// The backend answers GET with a body; the client asked HEAD.
		{"HEAD overridden to GET", "HEAD", "/v1/hello", "GET", 200, ""},
		// The gateway's own 405 (HEAD is not declared on /v1/hello): an
		// OPTIONS client must get the JSON body, framed.
		{"OPTIONS overridden to HEAD, gateway reply", "OPTIONS", "/v1/hello", "HEAD", 405, ""},
		// The backend answers HEAD without a body (but with the length a
		// GET would have); the client asked OPTIONS and must read an
		// empty body, not wait for one.
		{"OPTIONS overridden to HEAD, backend reply", "OPTIONS", "/v1/peek", "HEAD", 200, ""},
		{"GET overridden to HEAD", "GET", "/v1/peek", "HEAD", 200, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: gw.test\r\nAuthorization: Bearer %s\r\nX-HTTP-Method-Override: %s\r\n\r\n", c.method, c.path, tok, c.override)
			// A plain request follows on the same connection.
			fmt.Fprintf(conn, "GET /v1/hello HTTP/1.1\r\nHost: gw.test\r\nAuthorization: Bearer %s\r\n\r\n", tok)
			br := bufio.NewReader(conn)

			res, err := http.ReadResponse(br, &http.Request{Method: c.method})
			if err != nil {
				t.Fatalf("first response: %v", err)
			}
			body, err := io.ReadAll(res.Body)
			if err != nil {
				t.Fatalf("first response body (%d %s): %v: the client waits for a body that is not framed", res.StatusCode, res.Header, err)
			}
			if res.StatusCode != c.status {
				t.Errorf("first response %d %s, want %d", res.StatusCode, body, c.status)
			}
			switch {
			case c.method == "HEAD" && len(body) != 0:
				t.Errorf("HEAD response carried a body %q", body)
			case c.status == 405:
				var e errorBody
				if json.Unmarshal(body, &e) != nil || e.Message != msgMethodNotAllowed("/v1/hello") {
					t.Errorf("405 body %q, want the gateway's JSON reply", body)
				}
			}

			res2, err := http.ReadResponse(br, &http.Request{Method: "GET"})
			if err != nil {
				t.Fatalf("second response on the same connection: %v (the first left the connection out of step)", err)
			}
			body2, _ := io.ReadAll(res2.Body)
			if res2.StatusCode != 200 || string(body2) != backendBody {
				t.Errorf("second response %d %q, want 200 %s", res2.StatusCode, body2, backendBody)
			}
		})
	}
}
