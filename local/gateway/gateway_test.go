package gateway

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/spec"
)

func TestRoutingAndPathTranslation(t *testing.T) {
	var gotPath string
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { gotPath = r.URL.RequestURI() }))
	defer backend.Close()
	doc := &spec.Document{
		Backend: spec.Backend{Address: backend.URL + "/api", PathTranslation: spec.AppendPathToAddress},
		Operations: []spec.Operation{
			{ID: "a", Method: "GET", Path: "/v1/items/{id}"},
			{ID: "b", Method: "GET", Path: "/v1/fixed", Backend: &spec.Backend{Address: backend.URL + "/const", PathTranslation: spec.ConstantAddress}},
		},
	}
	g, err := New(doc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		method, path string
		status       int
		backendPath  string
	}{
		{"GET", "/v1/items/42?q=1", 200, "/api/v1/items/42?q=1"},
		{"GET", "/v1/fixed?q=2", 200, "/const?q=2"},
		{"GET", "/v1/items/", 404, ""},
		{"GET", "/v1/items/1/2", 404, ""},
		{"POST", "/v1/items/1", 404, ""},
		{"GET", "/v1/other", 404, ""},
	}
	for _, tt := range tests {
		gotPath = ""
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
		if rec.Code != tt.status || gotPath != tt.backendPath {
			t.Errorf("%s %s = %d (backend saw %q), want %d (%q)", tt.method, tt.path, rec.Code, gotPath, tt.status, tt.backendPath)
		}
		if rec.Code == 404 && !strings.Contains(rec.Body.String(), msgNotDefined) {
			t.Errorf("%s %s body = %s", tt.method, tt.path, rec.Body.String())
		}
	}
	if _, err := New(&spec.Document{Operations: []spec.Operation{{Method: "GET", Path: "/x", Security: [][]string{{"nope"}}}}}, Options{}); err == nil {
		t.Error("New accepted an operation naming an unknown issuer")
	}
}
