package spec

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

const examplesFragment = `swagger: "2.0"
info: {title: shop, version: "3"}
paths:
  /v3/orders:
    post:
      summary: Place an order.
      consumes: [application/json]
      parameters:
        - {in: body, name: order, required: true, schema: {$ref: "#/definitions/NewOrder"}}
      responses: {"201": {description: created}}
    get:
      summary: List orders.
      responses: {"200": {description: ok}}
  /v3/orders/{id}:
    parameters:
      - {in: path, name: id, required: true, type: string}
    delete:
      x-gatehouse-roles: [admin, support]
      responses: {"204": {description: gone}}
    put:
      parameters:
        - {in: body, name: order, required: true, schema: {$ref: "#/definitions/NewOrder"}}
      responses: {"200": {description: ok}}
    head:
      responses: {"200": {description: ok}}
definitions:
  NewOrder:
    type: object
    required: [item, quantity, gift, size, tags, at, note]
    properties:
      item: {type: string, example: "a teapot"}
      quantity: {type: integer, minimum: 2}
      gift: {type: boolean}
      size: {type: string, enum: [large, small]}
      tags: {type: array, items: {type: string}}
      at: {type: string, format: date-time}
      note: {type: string, example: "it's fragile"}
      optional: {type: string}
`

// TestExampleCalls: every operation but HEAD gets a call, by path then
// method, with path parameters filled in and a JSON body built from the
// body's schema (examples, enums, minimums, types); each call reads as a
// gatehouse command and as curl with the JSON Content-Type; a call that
// needs a role (x-gatehouse-roles) says which.
func TestExampleCalls(t *testing.T) {
	calls, err := ExampleCalls([]byte(examplesFragment))
	if err != nil {
		t.Fatal(err)
	}
	body := `{"at":"2026-01-01T00:00:00Z","gift":true,"item":"a teapot","note":"it's fragile","quantity":2,"size":"large","tags":["example"]}`
	quoted := `'{"at":"2026-01-01T00:00:00Z","gift":true,"item":"a teapot","note":"it'\''s fragile","quantity":2,"size":"large","tags":["example"]}'`
	want := []struct{ cli, curl string }{
		{"gatehouse call /v3/orders", `curl -H "Authorization: Bearer $(gatehouse token)" http://127.0.0.1:8080/v3/orders`},
		{"gatehouse call POST /v3/orders -d " + quoted,
			`curl -H "Authorization: Bearer $(gatehouse token)" -H 'Content-Type: application/json' -d ` + quoted + ` http://127.0.0.1:8080/v3/orders`},
		{"gatehouse call PUT /v3/orders/id -d " + quoted,
			`curl -H "Authorization: Bearer $(gatehouse token)" -X PUT -H 'Content-Type: application/json' -d ` + quoted + ` http://127.0.0.1:8080/v3/orders/id`},
		{"gatehouse call DELETE /v3/orders/id", `curl -H "Authorization: Bearer $(gatehouse token)" -X DELETE http://127.0.0.1:8080/v3/orders/id`},
	}
	if len(calls) != len(want) {
		t.Fatalf("ExampleCalls = %+v, want %d calls", calls, len(want))
	}
	for i, c := range calls {
		if got := c.CLI(); got != want[i].cli {
			t.Errorf("call %d CLI() = %s\nwant %s", i, got, want[i].cli)
		}
		if got := c.Curl("http://127.0.0.1:8080/"); got != want[i].curl {
			t.Errorf("call %d Curl() = %s\nwant %s", i, got, want[i].curl)
		}
	}
	if calls[1].Body != body {
		t.Errorf("POST call = %+v, want body %s", calls[1], body)
	}
	lines, err := ExampleLines([]byte(examplesFragment), "http://127.0.0.1:8080")
	if err != nil || len(lines) != 6 || lines[0] != want[0].cli || lines[1] != want[1].cli || lines[2] != want[1].curl || lines[5] != want[3].cli+"   # 403 without the role admin or support" {
		t.Errorf("ExampleLines = %q, %v: want each call, curl after each call with a body, and the roles of a call that needs one", lines, err)
	}
	if strings.Join(calls[3].Roles, ",") != "admin,support" || calls[0].Roles != nil {
		t.Errorf("roles: DELETE %v, GET %v; want [admin support] and none", calls[3].Roles, calls[0].Roles)
	}
	if _, err := ExampleCalls([]byte("paths: [")); err == nil {
		t.Error("ExampleCalls accepted a fragment that is not YAML")
	}
}

// TestShellQuote: what ShellQuote quotes, a POSIX shell reads back as it was.
func TestShellQuote(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"/v1/hello", `{"text":"it's $HOME; ` + "`x`" + ` \ "}`, "", "a b", "'"} {
		out, err := exec.Command(sh, "-c", "printf %s "+ShellQuote(s)).Output()
		if err != nil || string(out) != s {
			t.Errorf("sh read %s as %q (%v), want %q", ShellQuote(s), out, err, s)
		}
	}
	if ShellQuote("/v2/notes") != "/v2/notes" {
		t.Errorf("ShellQuote quoted a plain path: %s", ShellQuote("/v2/notes"))
	}
}

// TestExampleCallsOfTheExamples: the repository's own fragments give the
// calls the README shows, the notes POST with its JSON body.
func TestExampleCallsOfTheExamples(t *testing.T) {
	var got []string
	for _, f := range []string{"../service/hello/openapi.yaml", "../service/notes/openapi.yaml"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		calls, err := ExampleCalls(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range calls {
			got = append(got, c.CLI())
		}
	}
	want := "gatehouse call /v1/admin/hello\ngatehouse call /v1/hello\ngatehouse call /v1/me\ngatehouse call /v2/admin/stats\ngatehouse call /v2/notes\ngatehouse call POST /v2/notes -d '{\"text\":\"buy milk\"}'"
	if strings.Join(got, "\n") != want {
		t.Errorf("example calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), want)
	}
}
