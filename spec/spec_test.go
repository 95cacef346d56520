package spec

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "rewrite golden files")

// helloFragment is a /v1 backend's fragment (testdata/hello.fragment.yaml).
var helloFragment = func() []byte {
	b, err := os.ReadFile(filepath.Join("testdata", "hello.fragment.yaml"))
	if err != nil {
		panic(err)
	}
	return b
}()

const v1URL = "https://gatehouse-abc123-ew.a.run.app"

// v1 is the /v1 backend's route to url.
func v1(url string) []BackendRoute {
	return []BackendRoute{{Name: "v1", URL: url, Fragment: helloFragment}}
}

func goodParams() Params {
	return Params{
		Backends:          v1(v1URL),
		FirebaseProjectID: "demo-gatehouse",
		ServiceAccounts:   []ServiceAccount{{Email: "robot@demo-gatehouse.iam.gserviceaccount.com", Audience: "gatehouse"}},
		Deadline:          30 * time.Second,
	}
}

func TestRenderGolden(t *testing.T) {
	for name, p := range map[string]Params{
		"default": {Backends: v1(v1URL), FirebaseProjectID: "demo-gatehouse"},
		"full": func() Params {
			p := goodParams()
			p.Title, p.Version = "Acme API", "2.1.0"
			p.Backends[0].JWTAudience = "https://custom-audience.example.com"
			p.CORS, p.EndpointsName = true, "gatehouse-0a1b2c3d4e5f6.apigateway.demo-gatehouse.cloud.goog"
			return p
		}(),
		"local":        {Backends: v1("http://127.0.0.1:8081"), FirebaseProjectID: "demo-gatehouse", Options: Options{Local: true}},
		"two-backends": twoBackends(),
	} {
		t.Run(name, func(t *testing.T) {
			got, err := Render(p)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", name+".golden.yaml")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Render(%s) differs from %s (go test -update rewrites it):\n%s", name, golden, got)
			}
		})
	}
}

func TestRenderContent(t *testing.T) {
	doc, err := Render(goodParams())
	if err != nil {
		t.Fatal(err)
	}
	d, err := Parse(doc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Every operation carries its backend; the document has none of its own.
	wantBackend := Backend{Address: v1URL, PathTranslation: AppendPathToAddress, JWTAudience: v1URL, Deadline: 30 * time.Second}
	if d.Backend != (Backend{}) {
		t.Errorf("document-level Backend = %+v, want none", d.Backend)
	}
	for _, op := range d.Operations {
		if op.Backend == nil || *op.Backend != wantBackend {
			t.Errorf("%s %s: Backend = %+v, want %+v", op.Method, op.Path, op.Backend, wantBackend)
		}
	}
	fb := d.Issuers["firebase"]
	if fb.Issuer != "https://securetoken.google.com/demo-gatehouse" || fb.JWKSURI != FirebaseJWKSURI || fmt.Sprint(fb.Audiences) != "[demo-gatehouse]" {
		t.Errorf("firebase issuer = %+v", fb)
	}
	sa := d.Issuers["sa_robot_at_demo_gatehouse_iam_gserviceaccount_com"]
	if sa.Issuer != "robot@demo-gatehouse.iam.gserviceaccount.com" ||
		sa.JWKSURI != "https://www.googleapis.com/robot/v1/metadata/x509/robot@demo-gatehouse.iam.gserviceaccount.com" || fmt.Sprint(sa.Audiences) != "[gatehouse]" {
		t.Errorf("service account issuer = %+v", sa)
	}
	var got []string
	for _, op := range d.Operations {
		got = append(got, fmt.Sprintf("%s %s %s %v", op.Method, op.Path, op.ID, op.Security))
	}
	want := []string{
		"GET /v1/admin/hello adminHello [[firebase] [sa_robot_at_demo_gatehouse_iam_gserviceaccount_com]]",
		"GET /v1/hello hello [[firebase] [sa_robot_at_demo_gatehouse_iam_gserviceaccount_com]]",
		"GET /v1/me me [[firebase] [sa_robot_at_demo_gatehouse_iam_gserviceaccount_com]]",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Operations = %q, want %q", got, want)
	}
	if !bytes.Contains(doc, []byte(`authorizationUrl: ""`)) {
		t.Error(`rendered document lost Google's authorizationUrl: ""`)
	}
}

func TestParamRules(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*Params)
		field string
	}{
		{"no backend", func(p *Params) { p.Backends = nil }, "Backends"},
		{"no backend URL", func(p *Params) { p.Backends[0].URL = "" }, "Backends[0].URL"},
		{"relative backend", func(p *Params) { p.Backends[0].URL = "/v1" }, "Backends[0].URL"},
		{"http backend", func(p *Params) { p.Backends[0].URL = "http://example.com" }, "Backends[0].URL"},
		{"loopback http outside local mode", func(p *Params) { p.Backends[0].URL = "http://127.0.0.1:8080" }, "Backends[0].URL"},
		{"ftp backend", func(p *Params) { p.Backends[0].URL = "ftp://example.com" }, "Backends[0].URL"},
		{"backend with query", func(p *Params) { p.Backends[0].URL = "https://example.com/?a=b" }, "Backends[0].URL"},
		{"backend with user", func(p *Params) { p.Backends[0].URL = "https://u:p@example.com" }, "Backends[0].URL"},
		{"bad project", func(p *Params) { p.FirebaseProjectID = "Bad_Project" }, "FirebaseProjectID"},
		{"short project", func(p *Params) { p.FirebaseProjectID = "abc" }, "FirebaseProjectID"},
		{"project ending in hyphen", func(p *Params) { p.FirebaseProjectID = "my-project-" }, "FirebaseProjectID"},
		{"no issuer at all", func(p *Params) { p.FirebaseProjectID, p.ServiceAccounts = "", nil }, "FirebaseProjectID"},
		{"bad sa email", func(p *Params) { p.ServiceAccounts[0].Email = "robot@gmail.com" }, "ServiceAccounts[0].Email"},
		{"empty sa audience", func(p *Params) { p.ServiceAccounts[0].Audience = "" }, "ServiceAccounts[0].Audience"},
		{"duplicate sa", func(p *Params) { p.ServiceAccounts = append(p.ServiceAccounts, p.ServiceAccounts[0]) }, "Issuers"},
		{"issuer equal to firebase", func(p *Params) {
			p.Issuers = []Issuer{{Name: "other", Issuer: "https://securetoken.google.com/demo-gatehouse", JWKSURI: "https://keys.example.com", Audiences: []string{"x"}}}
		}, "Issuers"},
		{"issuer name taken", func(p *Params) {
			p.Issuers = []Issuer{{Name: "firebase", Issuer: "https://other.example.com", JWKSURI: "https://keys.example.com", Audiences: []string{"x"}}}
		}, "Issuers"},
		{"issuer bad name", func(p *Params) {
			p.Issuers = []Issuer{{Name: "1bad-name", Issuer: "i", JWKSURI: "https://keys.example.com", Audiences: []string{"x"}}}
		}, "Issuers[0].Name"},
		{"issuer without audience", func(p *Params) {
			p.Issuers = []Issuer{{Name: "x", Issuer: "i", JWKSURI: "https://keys.example.com"}}
		}, "Issuers[0].Audiences"},
		{"issuer http jwks", func(p *Params) {
			p.Issuers = []Issuer{{Name: "x", Issuer: "i", JWKSURI: "http://keys.example.com", Audiences: []string{"a"}}}
		}, "Issuers[0].JWKSURI"},
		{"negative deadline", func(p *Params) { p.Deadline = -time.Second }, "Deadline"},
		{"huge deadline", func(p *Params) { p.Deadline = 2 * time.Hour }, "Deadline"},
		{"audience with space", func(p *Params) { p.Backends[0].JWTAudience = "a b" }, "Backends[0].JWTAudience"},
		{"title with newline", func(p *Params) { p.Title = "a\nb" }, "Title"},
		{"cors without endpoints name", func(p *Params) { p.CORS = true }, "EndpointsName"},
	}
	if _, err := Render(goodParams()); err != nil {
		t.Fatalf("Render(good params) = %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := goodParams()
			tt.edit(&p)
			doc, err := Render(p)
			if err == nil || !strings.Contains(err.Error(), tt.field+":") {
				t.Errorf("Render(%s) = %d bytes, %v, want an error naming %s", tt.name, len(doc), err, tt.field)
			}
		})
	}
	// Loopback http is fine for the local twin.
	p := goodParams()
	p.Backends[0].URL, p.Local = "http://[::1]:8081", true
	p.Issuers = []Issuer{{Name: "test", Issuer: "https://issuer.test", JWKSURI: "http://localhost:9999/jwks", Audiences: []string{"a", "b"}}}
	if _, err := Render(p); err != nil {
		t.Errorf("Render(local loopback) = %v, want ok", err)
	}
}

// mutate applies edit to the document's generic YAML form.
func mutate(t *testing.T, doc []byte, edit func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	out, err := yaml.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func obj(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		m = m[k].(map[string]any)
	}
	return m
}

func TestDocumentRules(t *testing.T) {
	good, err := Render(goodParams())
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(good, Options{}); err != nil {
		t.Fatalf("Validate(rendered) = %v", err)
	}
	// A YAML round trip of the good document stays valid, so each failure
	// below comes from its edit.
	if err := Validate(mutate(t, good, func(map[string]any) {}), Options{}); err != nil {
		t.Fatalf("Validate(round-tripped) = %v", err)
	}
	hello := func(m map[string]any) map[string]any { return obj(m, "paths", "/v1/hello", "get") }
	tests := []struct {
		name string
		edit func(m map[string]any)
		want string
	}{
		{"swagger 3", func(m map[string]any) { m["swagger"] = "3.0" }, `swagger must be "2.0"`},
		{"schema: no responses", func(m map[string]any) { delete(hello(m), "responses") }, "swagger 2.0 schema"},
		{"schema: authorizationUrl not a URI", func(m map[string]any) {
			obj(m, "securityDefinitions", "firebase")["authorizationUrl"] = "not a uri"
		}, "authorizationUrl"},
		{"schema: empty authorizationUrl without x-google-issuer", func(m map[string]any) {
			delete(obj(m, "securityDefinitions", "firebase"), "x-google-issuer")
		}, "authorizationUrl"},
		{"duplicate operationId", func(m map[string]any) { hello(m)["operationId"] = "me" }, `operationId "me" is also used`},
		{"missing operationId", func(m map[string]any) { delete(hello(m), "operationId") }, "operationId is required"},
		{"operation without security", func(m map[string]any) { delete(hello(m), "security") }, "GET /v1/hello: no security requirement"},
		{"empty security requirement", func(m map[string]any) { hello(m)["security"] = []any{map[string]any{}} }, "empty security requirement"},
		{"undefined security", func(m map[string]any) { hello(m)["security"] = []any{map[string]any{"nope": []any{}}} }, `"nope" has no securityDefinition`},
		{"OPTIONS without allowCors", func(m map[string]any) {
			obj(m, "paths", "/v1/hello")["options"] = map[string]any{"operationId": "pre", "responses": map[string]any{"204": map[string]any{"description": "x"}}}
		}, "OPTIONS /v1/hello: no security requirement"},
		{"operation routed nowhere", func(m map[string]any) { delete(hello(m), "x-google-backend") }, "GET /v1/hello: routed to no backend"},
		{"http backend", func(m map[string]any) { obj(hello(m), "x-google-backend")["address"] = "http://example.com" }, "must use https"},
		{"loopback backend in cloud mode", func(m map[string]any) {
			obj(hello(m), "x-google-backend")["address"] = "http://127.0.0.1:8080"
		}, "plain http is only for the local twin"},
		{"bad path_translation", func(m map[string]any) { obj(hello(m), "x-google-backend")["path_translation"] = "REWRITE" }, "path_translation"},
		{"negative deadline", func(m map[string]any) { obj(hello(m), "x-google-backend")["deadline"] = -1 }, "deadline"},
		{"http top-level backend", func(m map[string]any) { m["x-google-backend"] = map[string]any{"address": "http://example.com"} }, "x-google-backend: address"},
		{"operation backend http", func(m map[string]any) {
			hello(m)["x-google-backend"] = map[string]any{"address": "http://evil.example.com"}
		}, "GET /v1/hello: x-google-backend"},
		{"issuer without jwks", func(m map[string]any) { delete(obj(m, "securityDefinitions", "firebase"), "x-google-jwks_uri") }, "without x-google-jwks_uri"},
		{"issuer without audiences", func(m map[string]any) { delete(obj(m, "securityDefinitions", "firebase"), "x-google-audiences") }, "without x-google-audiences"},
		{"issuer jwks over http", func(m map[string]any) {
			obj(m, "securityDefinitions", "firebase")["x-google-jwks_uri"] = "http://keys.example.com"
		}, "x-google-jwks_uri"},
		{"unrouted path", func(m map[string]any) {
			obj(m, "paths")["/v1/admin"] = map[string]any{"get": map[string]any{"operationId": "admin", "security": []any{map[string]any{"firebase": []any{}}},
				"responses": map[string]any{"200": map[string]any{"description": "x"}}}}
		}, "GET /v1/admin: routed to no backend"},
		{"jwt locations not a list", func(m map[string]any) {
			obj(m, "securityDefinitions", "firebase")["x-google-jwt-locations"] = "Authorization"
		}, "x-google-jwt-locations: must be a non-empty list"},
		{"jwt location with header and query", func(m map[string]any) {
			obj(m, "securityDefinitions", "firebase")["x-google-jwt-locations"] = []any{map[string]any{"header": "Authorization", "query": "access_token"}}
		}, "must name exactly one header or query parameter"},
		{"jwt location prefix on a query", func(m map[string]any) {
			obj(m, "securityDefinitions", "firebase")["x-google-jwt-locations"] = []any{map[string]any{"query": "access_token", "value_prefix": "Bearer "}}
		}, "value_prefix must be a string and applies to a header only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(mutate(t, good, tt.edit), Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate(%s) = %v, want error containing %q", tt.name, err, tt.want)
			}
		})
	}
	// The loopback backend is accepted in local mode.
	local := mutate(t, good, func(m map[string]any) { obj(hello(m), "x-google-backend")["address"] = "http://127.0.0.1:8080" })
	if err := Validate(local, Options{Local: true}); err != nil {
		t.Errorf("Validate(loopback, local) = %v, want ok", err)
	}
	// The validator knows no template: a document of another API, its paths
	// routed by a top-level x-google-backend as API Gateway allows, passes.
	other := mutate(t, good, func(m map[string]any) {
		m["x-google-backend"] = map[string]any{"address": "https://other-api.example.com"}
		ops := obj(m, "paths")
		for path := range ops {
			delete(ops, path)
		}
		ops["/widgets/{id}"] = map[string]any{"get": map[string]any{"operationId": "getWidget", "security": []any{map[string]any{"firebase": []any{}}},
			"parameters": []any{map[string]any{"name": "id", "in": "path", "required": true, "type": "string"}},
			"responses":  map[string]any{"200": map[string]any{"description": "x"}}}}
	})
	if err := Validate(other, Options{}); err != nil {
		t.Errorf("Validate(another API's document) = %v, want ok", err)
	}
	if err := Validate([]byte("{not yaml"), Options{}); err == nil {
		t.Error("Validate(garbage) = nil, want error")
	}
}

var configIDRe = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)

func randomParams(r *rand.Rand) Params {
	letters := "abcdefghijklmnopqrstuvwxyz0123456789"
	word := func(n int) string {
		b := make([]byte, n)
		b[0] = 'a' + byte(r.IntN(26))
		for i := 1; i < n; i++ {
			b[i] = letters[r.IntN(len(letters))]
		}
		return string(b)
	}
	p := Params{
		Backends:          v1("https://" + word(3+r.IntN(20)) + ".a.run.app"),
		FirebaseProjectID: word(6 + r.IntN(24)),
	}
	if r.IntN(2) == 0 {
		p.Deadline = time.Duration(1+r.IntN(600)) * time.Second
	}
	for range r.IntN(3) {
		p.ServiceAccounts = append(p.ServiceAccounts, ServiceAccount{Email: word(6) + "@" + word(8) + ".iam.gserviceaccount.com", Audience: word(5)})
	}
	if r.IntN(2) == 0 {
		p.CORS, p.EndpointsName = true, word(8)+".apigateway."+word(8)+".cloud.goog"
	}
	return p
}

// TestDeterminismAndConfigID checks, over many random params, that the same
// params give the same bytes and id, that different documents get different
// ids and that any byte change changes the id. Every tenth case also goes
// through the full Render (schema validation is the slow part).
func TestDeterminismAndConfigID(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	seen := map[string]string{}
	const n = 300
	for i := range n {
		p := randomParams(r)
		if err := p.Validate(); err != nil {
			t.Fatalf("random params invalid: %v", err)
		}
		a, err := build(p)
		if err != nil {
			t.Fatal(err)
		}
		b, err := build(p)
		if err != nil || !bytes.Equal(a, b) {
			t.Fatalf("rendering is not deterministic for %+v", p)
		}
		if i%10 == 0 {
			c, err := Render(p)
			if err != nil || !bytes.Equal(a, c) {
				t.Fatalf("Render(%+v) = %v, or differs from the unvalidated build", p, err)
			}
		}
		id := ConfigID(a, "")
		if !configIDRe.MatchString(id) || len(id) > 63 || id != ConfigID(b, "") {
			t.Fatalf("ConfigID = %q, want a stable API Gateway config id", id)
		}
		if prev, ok := seen[id]; ok && prev != string(a) {
			t.Fatalf("ConfigID collision for different documents: %s", id)
		}
		seen[id] = string(a)
		c := bytes.Clone(a)
		c[r.IntN(len(c))] ^= byte(1 + r.IntN(255))
		if ConfigID(c, "") == id || ConfigID(a, "sa@p.iam.gserviceaccount.com") == id {
			t.Fatalf("ConfigID unchanged after a byte change (case %d)", i)
		}
	}
	if len(seen) != n {
		t.Errorf("%d distinct documents from %d random params, want %d", len(seen), n, n)
	}
}

func FuzzRender(f *testing.F) {
	f.Add("https://a.run.app", "demo-gatehouse", "robot@p-123456.iam.gserviceaccount.com", "aud", int64(0), false)
	f.Add("http://127.0.0.1:1", "bad", "", "", int64(-5), true)
	f.Add("https://x", "", "nobody", "a b", int64(1e9), false)
	f.Fuzz(func(t *testing.T, backend, project, email, aud string, deadline int64, cors bool) {
		p := Params{Backends: v1(backend), FirebaseProjectID: project, Deadline: time.Duration(deadline), CORS: cors, EndpointsName: "x.apigateway.p.cloud.goog"}
		if email != "" {
			p.ServiceAccounts = []ServiceAccount{{Email: email, Audience: aud}}
		}
		doc, err := Render(p)
		if err != nil {
			return
		}
		if p.Validate() != nil {
			t.Fatalf("Render accepted params that Validate rejects: %+v", p)
		}
		if err := Validate(doc, Options{}); err != nil {
			t.Fatalf("Render produced an invalid document: %v", err)
		}
	})
}

// TestBackendDefaults: path_translation defaults by where x-google-backend
// stands (top level: APPEND_PATH_TO_ADDRESS; operation: CONSTANT_ADDRESS),
// and disable_auth is read strictly.
func TestBackendDefaults(t *testing.T) {
	tests := []struct {
		name     string
		block    map[string]any
		topLevel bool
		want     Backend
		wantErr  string
	}{
		{"top level", map[string]any{"address": "https://b.test"}, true, Backend{Address: "https://b.test", PathTranslation: AppendPathToAddress}, ""},
		{"operation", map[string]any{"address": "https://b.test"}, false, Backend{Address: "https://b.test", PathTranslation: ConstantAddress}, ""},
		{"explicit wins", map[string]any{"address": "https://b.test", "path_translation": ConstantAddress}, true, Backend{Address: "https://b.test", PathTranslation: ConstantAddress}, ""},
		{"disable_auth", map[string]any{"address": "https://b.test", "disable_auth": true}, false, Backend{Address: "https://b.test", PathTranslation: ConstantAddress, DisableAuth: true}, ""},
		{"disable_auth not a bool", map[string]any{"address": "https://b.test", "disable_auth": "yes"}, false, Backend{}, "disable_auth must be true or false"},
	}
	for _, tt := range tests {
		got, err := parseBackend(tt.block, tt.topLevel)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: err = %v, want %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: parseBackend = %+v, %v; want %+v", tt.name, got, err, tt.want)
		}
	}
}

// TestJWTLocationsAuthorizationOnly: every issuer reads tokens from the
// Authorization header only (x-google-jwt-locations), so that API Gateway
// does not take one from the access_token query parameter, whose value
// lands in request logs; a document without it fails the check.
func TestJWTLocationsAuthorizationOnly(t *testing.T) {
	check := func(doc []byte) error {
		var m map[string]any
		if err := yaml.Unmarshal(doc, &m); err != nil {
			return err
		}
		defs, _ := m["securityDefinitions"].(map[string]any)
		if len(defs) == 0 {
			return fmt.Errorf("no securityDefinitions")
		}
		for name, d := range defs {
			got := fmt.Sprint(d.(map[string]any)["x-google-jwt-locations"])
			if want := "[map[header:Authorization value_prefix:Bearer ]]"; got != want {
				return fmt.Errorf("securityDefinition %s: x-google-jwt-locations = %s, want %s", name, got, want)
			}
		}
		return nil
	}
	doc, err := Render(goodParams()) // two issuers: Firebase and a service account
	if err != nil {
		t.Fatal(err)
	}
	if err := check(doc); err != nil {
		t.Error(err)
	}
	without := mutate(t, doc, func(m map[string]any) { delete(obj(m, "securityDefinitions", "firebase"), "x-google-jwt-locations") })
	if err := check(without); err == nil {
		t.Error("the check passes a document whose firebase issuer reads ESPv2's default locations (access_token included)")
	}
}
