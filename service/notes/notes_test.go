package notes

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
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

// TestStoreQuotaPerCaller: a caller holds at most MaxNotesPerUser notes;
// adding one more replaces their own oldest, whose bytes the store counts
// no more.
func TestStoreQuotaPerCaller(t *testing.T) {
	s := newStore(DefaultStoreBytes, time.Now)
	ada := backend.User{Issuer: firebaseIssuer, Subject: "ada"}
	for i := range MaxNotesPerUser {
		if _, err := s.add(ada, fmt.Sprintf("note %03d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		if _, err := s.add(ada, fmt.Sprintf("more %03d", i)); err != nil {
			t.Fatal(err)
		}
	}
	got := s.list(ada)
	if len(got) != MaxNotesPerUser || got[0].Text != "note 005" || got[len(got)-1].Text != "more 004" {
		t.Errorf("%d notes from %q to %q, want %d from \"note 005\" to \"more 004\"", len(got), got[0].Text, got[len(got)-1].Text, MaxNotesPerUser)
	}
	want := userCost(ada)
	for _, n := range got {
		want += noteCost(n)
	}
	if s.Bytes() != want {
		t.Errorf("store counts %d bytes, want %d: the replaced notes' bytes are returned", s.Bytes(), want)
	}
}

// TestStoreFullRefusesNotEvicts: the store is bounded by bytes; when a
// flood of callers fills it, their next notes are refused (ErrFull) and
// nobody's notes are evicted (#28 item 2). It once evicted the least
// recently written caller, so 10,000 new accounts pushed everyone out.
func TestStoreFullRefusesNotEvicts(t *testing.T) {
	const max = 256 << 10
	s := newStore(max, time.Now)
	victim := backend.User{Issuer: firebaseIssuer, Subject: "victim"}
	for i := range 3 {
		if _, err := s.add(victim, fmt.Sprintf("keep %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	text := strings.Repeat("x", MaxTextLen)
	refused := 0
	for i := 0; refused < 10 && i < 10000; i++ {
		flooder := backend.User{Issuer: firebaseIssuer, Subject: fmt.Sprintf("flood-%d", i)}
		for range 10 {
			if _, err := s.add(flooder, text); errors.Is(err, ErrFull) {
				refused++
			} else if err != nil {
				t.Fatal(err)
			}
		}
		if s.Bytes() > max {
			t.Fatalf("store holds %d bytes, over its %d", s.Bytes(), max)
		}
	}
	if refused == 0 {
		t.Fatal("the flood was never refused: the bound is not reached")
	}
	if got := s.list(victim); len(got) != 3 || got[0].Text != "keep 0" {
		t.Errorf("the victim's notes after the flood: %v, want all 3 kept", got)
	}
	// At their quota, a caller can still replace their own oldest note
	// with one no larger, even in a full store.
	pinned := backend.User{Issuer: firebaseIssuer, Subject: "flood-0"}
	if _, err := s.add(pinned, text); err != nil && len(s.list(pinned)) == MaxNotesPerUser {
		t.Errorf("replacing one's own note in a full store: %v", err)
	}
}

// TestStoreBytes: the bound is a quarter of the Go memory limit the kit
// sets (GOMEMLIMIT, or 90% of the container's), DefaultStoreBytes without
// one.
func TestStoreBytes(t *testing.T) {
	for _, tt := range []struct{ limit, want int64 }{
		{230 << 20, 230 << 20 / 4}, // a 256 MiB instance
		{0, DefaultStoreBytes},
		{-1, DefaultStoreBytes},
	} {
		if got := StoreBytes(tt.limit); got != tt.want {
			t.Errorf("StoreBytes(%d) = %d, want %d", tt.limit, got, tt.want)
		}
	}
}

// TestNotesFloodOfAccounts: through the API, 10,001 new accounts writing a
// note each leave an earlier caller's notes in place (they once evicted
// them: the store kept 10,000 callers), and a store sized for a small
// instance answers 507 once full, as JSON, keeping everyone's notes.
func TestNotesFloodOfAccounts(t *testing.T) {
	e := newNotes(t)
	do(e, "POST", "/v2/notes", caller("victim"), `{"text":"keep me"}`)
	for i := range 10001 {
		if rec := do(e, "POST", "/v2/notes", caller("flood-"+strconv.Itoa(i)), `{"text":"x"}`); rec.Code != 201 {
			t.Fatalf("flood note %d: %d %s", i, rec.Code, rec.Body.String())
		}
	}
	if rec := do(e, "GET", "/v2/notes", caller("victim"), ""); !strings.Contains(rec.Body.String(), "keep me") {
		t.Errorf("after a flood of 10,001 accounts the victim's notes are gone: %s", rec.Body.String())
	}

	small, err := New(backend.Options{GatewayServiceAccount: gatewaytest.Account, MemoryLimit: 4 * (512 << 10)}) // a 512 KiB store
	if err != nil {
		t.Fatal(err)
	}
	do(small, "POST", "/v2/notes", caller("victim"), `{"text":"keep me"}`)
	body := `{"text":"` + strings.Repeat("y", MaxTextLen) + `"}`
	var full *httptest.ResponseRecorder
	for i := 0; i < 10000 && full == nil; i++ {
		if rec := do(small, "POST", "/v2/notes", caller("flood-"+strconv.Itoa(i/10)), body); rec.Code == http.StatusInsufficientStorage {
			full = rec
		} else if rec.Code != 201 {
			t.Fatalf("flood note %d: %d %s", i, rec.Code, rec.Body.String())
		}
	}
	if full == nil {
		t.Fatal("a 512 KiB store took 10,000 notes of 1,000 bytes")
	}
	if got := strings.TrimSpace(full.Body.String()); got != `{"code":507,"message":"Insufficient Storage"}` {
		t.Errorf("full store answers %s", got)
	}
	if rec := do(small, "GET", "/v2/notes", caller("victim"), ""); !strings.Contains(rec.Body.String(), "keep me") {
		t.Errorf("the victim's notes in the full store: %s", rec.Body.String())
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

// TestAdminStats: an admin reads the store's counts; any other caller,
// whoever issued their token, gets 403; no caller's text or identity is in
// the answer.
func TestAdminStats(t *testing.T) {
	e := newNotes(t)
	do(e, "POST", "/v2/notes", caller("ada"), `{"text":"secret plan"}`)
	do(e, "POST", "/v2/notes", caller("ada"), `{"text":"second"}`)
	do(e, "POST", "/v2/notes", caller("bob"), `{"text":"bob's"}`)
	admin := gatewaytest.Headers(`{"sub":"root","iss":"` + firebaseIssuer + `","roles":["admin"]}`)
	rec := do(e, "GET", "/v2/admin/stats", admin, "")
	var st Stats
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &st) != nil || st.Callers != 2 || st.Notes != 3 || st.Bytes <= 0 || st.CapacityBytes != DefaultStoreBytes {
		t.Errorf("admin stats = %d %s", rec.Code, rec.Body.String())
	}
	if strings.Contains(rec.Body.String(), "secret") || strings.Contains(rec.Body.String(), "ada") {
		t.Errorf("stats leak a note or a caller: %s", rec.Body.String())
	}
	for name, h := range map[string]map[string]string{
		"no roles":          caller("ada"),
		"another role":      gatewaytest.Headers(`{"sub":"ada","iss":"` + firebaseIssuer + `","roles":["support"]}`),
		"machine, no roles": callerOf("robot@p.iam.gserviceaccount.com", "machine-7"),
	} {
		if rec := do(e, "GET", "/v2/admin/stats", h, ""); rec.Code != 403 || !strings.Contains(rec.Body.String(), "needs the role admin") {
			t.Errorf("%s: %d %s, want 403", name, rec.Code, rec.Body.String())
		}
	}
	machine := gatewaytest.Headers(`{"sub":"machine-7","iss":"robot@p.iam.gserviceaccount.com","roles":["admin"]}`)
	if rec := do(e, "GET", "/v2/admin/stats", machine, ""); rec.Code != 200 {
		t.Errorf("machine client whose signer gave it admin: %d %s, want 200", rec.Code, rec.Body.String())
	}
}
