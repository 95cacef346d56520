package discovery

import (
	"crypto/sha256"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestPinnedDocuments checks every embedded document against SOURCE.md.
func TestPinnedDocuments(t *testing.T) {
	src, err := os.ReadFile("SOURCE.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := regexp.MustCompile(`(?m)^\| (\S+\.json) \| \S+ \| \d+ \| ([0-9a-f]{64}) \|$`).FindAllStringSubmatch(string(src), -1)
	entries, _ := files.ReadDir(".")
	if len(rows) != len(entries) || len(rows) == 0 {
		t.Fatalf("SOURCE.md lists %d documents, %d are embedded", len(rows), len(entries))
	}
	for _, r := range rows {
		b, err := files.ReadFile(r[1])
		if err != nil {
			t.Errorf("%s: %v", r[1], err)
			continue
		}
		if got := fmt.Sprintf("%x", sha256.Sum256(b)); got != r[2] {
			t.Errorf("%s: sha256 %s, SOURCE.md says %s", r[1], got, r[2])
		}
	}
}

func TestMatch(t *testing.T) {
	run, _ := Load("run-api.json")
	fb, _ := Load("firebase-api.json")
	su, _ := Load("serviceusage-api.json")
	st, _ := Load("storage-api.json")
	cases := []struct {
		d            *Doc
		method, path string
		id           string
	}{
		{run, "POST", "v2/projects/p/locations/l/services", "run.projects.locations.services.create"},
		{run, "GET", "v2/projects/p/locations/l/services/s", "run.projects.locations.services.get"},
		{run, "GET", "v2/projects/p/locations/l/services/s:getIamPolicy", "run.projects.locations.services.getIamPolicy"},
		{run, "POST", "v2/projects/p/locations/l/services/s:setIamPolicy", "run.projects.locations.services.setIamPolicy"},
		{fb, "GET", "v1beta1/projects/p/webApps/1:123:web:abc", "firebase.projects.webApps.get"},
		{fb, "POST", "v1beta1/projects/p/webApps/1:123:web:abc:remove", "firebase.projects.webApps.remove"},
		{fb, "GET", "v1beta1/projects/p/webApps/1:123:web:abc/config", "firebase.projects.webApps.getConfig"},
		{su, "POST", "v1/projects/p/services:batchEnable", "serviceusage.services.batchEnable"},
		{su, "POST", "v1/projects/p/services/run.googleapis.com:enable", "serviceusage.services.enable"},
		{st, "PUT", "storage/v1/b/bucket/iam", "storage.buckets.setIamPolicy"},
		{run, "GET", "v2/projects/p/locations/l/nothing", ""},
		{run, "DELETE", "v2/projects/p/locations/l/services", ""},
	}
	for _, c := range cases {
		m, _, ok := c.d.Match(c.method, c.path)
		got := ""
		if ok {
			got = m.ID
		}
		if got != c.id {
			t.Errorf("%s %s = %q, want %q", c.method, c.path, got, c.id)
		}
	}
}

func TestValidate(t *testing.T) {
	run, _ := Load("run-api.json")
	create := run.Method("run.projects.locations.services.create")
	for body, field := range map[string]string{
		`{"template":{"containers":[{"image":"x"}]}}`:                   "",
		`{"generation":"12","template":{"containers":[{"image":"x"}]}}`: "",
		`{"labels":{"a":"b"},"template":{"containers":[]}}`:             "",
		`{"template":{"containerz":[]}}`:                                "template.containerz",
		`{"labels":{"a":1}}`:                                            "labels.a",
		`{"launchStage":"SOON"}`:                                        "launchStage",
		`{"template":{"scaling":{"maxInstanceCount":"ten"}}}`:           "template.scaling.maxInstanceCount",
		`{"template":{"containers":[{"resources":{"cpuIdle":"yes"}}]}}`: "template.containers[0].resources.cpuIdle",
		`{"generation":"twelve"}`:                                       "generation",
	} {
		err := run.ValidateBody(create, []byte(body))
		switch {
		case field == "" && err != nil:
			t.Errorf("%s: %v", body, err)
		case field != "" && (err == nil || err.(*FieldError).Field != field):
			t.Errorf("%s: %v, want an error on %s", body, err, field)
		}
	}
	if err := run.ValidateQuery(create, url.Values{"serviceId": {"s"}, "alt": {"json"}, "validateOnly": {"maybe"}}); err == nil || !strings.Contains(err.Error(), "validateOnly") {
		t.Errorf("bad boolean query: %v", err)
	}
}

// FuzzMatch: no path or method makes the router panic.
func FuzzMatch(f *testing.F) {
	run, _ := Load("run-api.json")
	fb, _ := Load("firebase-api.json")
	for _, s := range []string{"v2/projects/p/locations/l/services/s:getIamPolicy", "v1beta1/projects/p/webApps/1:2:web:3:remove", "", "/", ":::", "a//b"} {
		f.Add("GET", s)
		f.Add("POST", s)
	}
	f.Fuzz(func(t *testing.T, method, path string) {
		for _, d := range []*Doc{run, fb} {
			if m, vars, ok := d.Match(method, path); ok && (m == nil || vars == nil) {
				t.Fatalf("match without a method: %q %q", method, path)
			}
		}
	})
}

// FuzzValidate: no body makes the validator panic; what it accepts is JSON.
func FuzzValidate(f *testing.F) {
	run, _ := Load("run-api.json")
	create := run.Method("run.projects.locations.services.create")
	for _, s := range []string{`{}`, `{"template":{"containers":[{"image":"x","ports":[{"containerPort":8080}]}]}}`, `[`, `{"labels":{"a":null}}`, `{"a":` + strings.Repeat("[", 200)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		_ = run.ValidateBody(create, body)
	})
}
