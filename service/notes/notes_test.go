package notes

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/service/backend"
	"github.com/gatehouse/gatehouse/service/internal/identity"
)

func caller(uid string) map[string]string {
	p, _ := json.Marshal(map[string]any{"sub": uid, "iss": "https://securetoken.google.com/p", "aud": "p", "iat": 1, "exp": 2})
	return map[string]string{identity.Header: base64.RawURLEncoding.EncodeToString(p)}
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
	e := New(backend.Options{})
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

func TestNotesBadInput(t *testing.T) {
	e := New(backend.Options{})
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
	for i := range MaxNotesPerUser + 5 {
		s.add("ada", "n"+string(rune('a'+i%26)))
	}
	if n := len(s.list("ada")); n != MaxNotesPerUser {
		t.Errorf("%d notes kept, want at most %d", n, MaxNotesPerUser)
	}
	for i := range MaxUsers + 3 {
		s.add("u"+time.Duration(i).String(), "x")
	}
	if len(s.byUser) != MaxUsers || s.order.Len() != MaxUsers {
		t.Errorf("%d users (%d in order), want at most %d", len(s.byUser), s.order.Len(), MaxUsers)
	}
	if _, ok := s.byUser["ada"]; ok {
		t.Error("the least recently written user was not the one evicted")
	}
}
