package notes

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/service/backend"
	"github.com/gatehouse/gatehouse/service/internal/gatewaytest"
)

const firebaseIssuer = "https://securetoken.google.com/p"

func caller(uid string) map[string]string { return callerOf(firebaseIssuer, uid) }

// callerOf is the gateway's forwarded identity of a token from issuer iss
// with subject sub.
func callerOf(iss, sub string) map[string]string {
	p, _ := json.Marshal(map[string]any{"sub": sub, "iss": iss, "aud": "p", "iat": 1, "exp": 2})
	return gatewaytest.Headers(string(p))
}

// newNotes is the notes backend as Run builds it, with the test gateway
// account.
func newNotes(t *testing.T) *echo.Echo {
	t.Helper()
	e, err := New(backend.Options{GatewayServiceAccount: gatewaytest.Account})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func do(h http.Handler, method, path string, headers map[string]string, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestNotesPerUser(t *testing.T) {
	e := newNotes(t)
	if rec := do(e, "POST", "/v2/notes", caller("ada"), `{"text":"  buy milk "}`); rec.Code != 201 || !strings.Contains(rec.Body.String(), `"text":"buy milk"`) {
		t.Fatalf("create = %d %s", rec.Code, rec.Body.String())
	}
	do(e, "POST", "/v2/notes", caller("bob"), `{"text":"bob's"}`)
	var got noteList
	rec := do(e, "GET", "/v2/notes", caller("ada"), "")
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != 200 {
		t.Fatalf("list = %d %s", rec.Code, rec.Body.String())
	}
	if got.Owner != "ada" || len(got.Notes) != 1 || got.Notes[0].Text != "buy milk" {
		t.Errorf("ada's notes = %+v, want only her own", got)
	}
	if rec := do(e, "GET", "/v2/notes", caller("carol"), ""); !strings.Contains(rec.Body.String(), `"notes":[]`) {
		t.Errorf("a new user's list = %s, want an empty list", rec.Body.String())
	}
}

// TestNotesOwnedByIssuerAndSubject: sub is unique only within an issuer.
// A machine client's issuer (gatehouse:serviceAccountIssuers) signs its own
// tokens and can put a Firebase user's uid in sub; it must not reach that
// user's notes, nor they its (#28 item 1). It once read and wrote them.
func TestNotesOwnedByIssuerAndSubject(t *testing.T) {
	e := newNotes(t)
	user := callerOf(firebaseIssuer, "uid-ada")
	machine := callerOf("robot@p.iam.gserviceaccount.com", "uid-ada")
	if rec := do(e, "POST", "/v2/notes", user, `{"text":"ada's own"}`); rec.Code != 201 {
		t.Fatalf("create = %d %s", rec.Code, rec.Body.String())
	}
	if rec := do(e, "POST", "/v2/notes", machine, `{"text":"the machine's"}`); rec.Code != 201 {
		t.Fatalf("create = %d %s", rec.Code, rec.Body.String())
	}
	for _, tt := range []struct {
		name      string
		who       map[string]string
		own, not  string
		wantOwner string
	}{
		{"the user", user, "ada's own", "the machine's", firebaseIssuer},
		{"the machine with the user's uid as sub", machine, "the machine's", "ada's own", "robot@p.iam.gserviceaccount.com"},
	} {
		rec := do(e, "GET", "/v2/notes", tt.who, "")
		var got noteList
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != 200 {
			t.Fatalf("%s: list = %d %s", tt.name, rec.Code, rec.Body.String())
		}
		if len(got.Notes) != 1 || got.Notes[0].Text != tt.own || got.Owner != "uid-ada" || got.Issuer != tt.wantOwner {
			t.Errorf("%s sees %s, want only %q (not %q), owner uid-ada of %s", tt.name, rec.Body.String(), tt.own, tt.not, tt.wantOwner)
		}
	}
}

func TestNotesBadInput(t *testing.T) {
	e := newNotes(t)
	tests := []struct{ name, body, want string }{
		{"not JSON", `text=hi`, "body must be JSON"},
		{"empty", `{"text":"  "}`, "text is required"},
		{"too long", `{"text":"` + strings.Repeat("x", MaxTextLen+1) + `"}`, "longer than 1000 bytes"},
		{"wrong type", `{"text":42}`, "body must be JSON"},
	}
	for _, tt := range tests {
		rec := do(e, "POST", "/v2/notes", caller("ada"), tt.body)
		if rec.Code != 400 || !strings.Contains(rec.Body.String(), tt.want) || !strings.HasPrefix(rec.Body.String(), `{"code":400`) {
			t.Errorf("%s: %d %s, want a JSON 400 with %q", tt.name, rec.Code, rec.Body.String(), tt.want)
		}
	}
	// No identity: refused by the shared middleware, as on /v1.
	for _, m := range []string{"GET", "POST"} {
		if rec := do(e, m, "/v2/notes", nil, `{"text":"x"}`); rec.Code != 401 {
			t.Errorf("%s without identity = %d, want 401", m, rec.Code)
		}
	}
	if rec := do(e, "DELETE", "/v2/notes", caller("ada"), ""); rec.Code != 405 {
		t.Errorf("DELETE = %d, want 405", rec.Code)
	}
}

func TestStoreBounds(t *testing.T) {
	s := newStore(time.Now)
	ada := backend.User{Issuer: firebaseIssuer, Subject: "ada"}
	for i := range MaxNotesPerUser + 5 {
		s.add(ada, "n"+string(rune('a'+i%26)))
	}
	if n := len(s.list(ada)); n != MaxNotesPerUser {
		t.Errorf("%d notes kept, want at most %d", n, MaxNotesPerUser)
	}
	for i := range MaxUsers + 3 {
		s.add(backend.User{Issuer: firebaseIssuer, Subject: "u" + time.Duration(i).String()}, "x")
	}
	if len(s.byUser) != MaxUsers || s.order.Len() != MaxUsers {
		t.Errorf("%d users (%d in order), want at most %d", len(s.byUser), s.order.Len(), MaxUsers)
	}
	if _, ok := s.byUser[ada]; ok {
		t.Error("the least recently written user was not the one evicted")
	}
}

// TestNotesNeedJSON: POST /v2/notes takes JSON only. A body of another
// type (curl -d sends a form) answers 415 naming the header to send; it
// once answered a misleading 400 "text is required" (#27 item 10).
func TestNotesNeedJSON(t *testing.T) {
	e := newNotes(t)
	for _, tt := range []struct {
		contentType string
		want        int
	}{
		{"application/x-www-form-urlencoded", 415}, // curl -d
		{"text/plain", 415},
		{"", 415},
		{"application/jsonx", 415},
		{"application/json", 201},
		{"application/json; charset=utf-8", 201},
		{"Application/JSON", 201},
	} {
		h := caller("ada")
		if tt.contentType != "" {
			h["Content-Type"] = tt.contentType
		}
		req := httptest.NewRequest("POST", "/v2/notes", strings.NewReader(`{"text":"hi"}`))
		for k, v := range h {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code != tt.want {
			t.Errorf("Content-Type %q: %d %s, want %d", tt.contentType, rec.Code, strings.TrimSpace(rec.Body.String()), tt.want)
			continue
		}
		if tt.want == 415 && (!strings.HasPrefix(rec.Body.String(), `{"code":415,`) || !strings.Contains(rec.Body.String(), "Content-Type: application/json")) {
			t.Errorf("Content-Type %q: %s, want a JSON 415 naming Content-Type: application/json", tt.contentType, rec.Body.String())
		}
	}
}
