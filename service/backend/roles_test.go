package backend

import (
	"net/http"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/service/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/service/internal/identity"
)

// rolesServer serves GET /admin (admin only), GET /staff (admin or
// support) and GET /open (any verified caller).
func rolesServer(t *testing.T) *echo.Echo {
	t.Helper()
	ok := func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]string{"ok": "yes"}) }
	return mustServer(t, Options{GatewayServiceAccount: gatewaytest.Account}, []Handler{
		{Route: Route{Method: http.MethodGet, Path: "/admin", Public: true, Identity: true, Roles: []string{"admin"}}, Func: ok},
		{Route: Route{Method: http.MethodGet, Path: "/staff", Public: true, Identity: true, Roles: []string{"admin", "support"}}, Func: ok},
		{Route: Route{Method: http.MethodGet, Path: "/open", Public: true, Identity: true}, Func: ok},
	})
}

// TestRouteRoles: a route that declares roles serves callers whose token's
// roles claim holds one of them and answers 403 JSON to every other
// verified caller; routes without roles serve everyone verified.
func TestRouteRoles(t *testing.T) {
	e := rolesServer(t)
	for _, tt := range []struct {
		name, claims, path string
		want               int
		msg                string
	}{
		{"admin on admin route", `{"sub":"u","roles":["admin"]}`, "/admin", 200, ""},
		{"no roles on admin route", `{"sub":"u"}`, "/admin", 403, "needs the role admin, which your token does not carry"},
		{"empty roles on admin route", `{"sub":"u","roles":[]}`, "/admin", 403, "needs the role admin"},
		{"another role on admin route", `{"sub":"u","roles":["support"]}`, "/admin", 403, "needs the role admin"},
		{"case differs", `{"sub":"u","roles":["Admin"]}`, "/admin", 403, "needs the role admin"},
		{"role in another claim", `{"sub":"u","role":"admin","admin":true}`, "/admin", 403, "needs the role admin"},
		{"one of two", `{"sub":"u","roles":["support"]}`, "/staff", 200, ""},
		{"none of two", `{"sub":"u","roles":["billing"]}`, "/staff", 403, "needs one of the roles admin, support"},
		{"no roles on open route", `{"sub":"u"}`, "/open", 200, ""},
		{"roles as a string", `{"sub":"u","roles":"admin"}`, "/admin", 401, "invalid gateway identity: the token's roles claim must be an array of strings"},
		{"roles as a string on open route", `{"sub":"u","roles":"admin"}`, "/open", 401, "roles claim must be an array"},
	} {
		rec := do(e, http.MethodGet, tt.path, map[string]string{identity.Header: userinfo(tt.claims)}, "")
		if rec.Code != tt.want {
			t.Errorf("%s: %d %s, want %d", tt.name, rec.Code, strings.TrimSpace(rec.Body.String()), tt.want)
			continue
		}
		if tt.want != 200 {
			var got ErrorBody
			decodeJSON(t, rec, &got)
			if got.Code != tt.want || !strings.Contains(got.Message, tt.msg) {
				t.Errorf("%s: body %+v, want %d %q", tt.name, got, tt.want, tt.msg)
			}
		}
	}
}

// The role check runs after the invoker check and the identity's decoding:
// a forged identity claiming admin on a request the gateway did not invoke
// is refused by the invoker check, and a request without an identity is
// 401, never a 403 that would tell the route exists for some role.
func TestRolesAfterInvokerAndIdentity(t *testing.T) {
	e := rolesServer(t)
	admin := userinfo(`{"sub":"u","roles":["admin"]}`)
	for _, tt := range []struct {
		name    string
		headers map[string]string
		want    int
		msg     string
	}{
		{"another invoker, forged admin", map[string]string{"Authorization": gatewaytest.InvokerToken("1234-compute@developer.gserviceaccount.com"), identity.Header: admin}, 403, msgNotTheGateway},
		{"no invoker token, forged admin", map[string]string{"Authorization": "", identity.Header: admin}, 401, msgNoInvoker},
		{"gateway, no identity", map[string]string{}, 401, "missing gateway identity"},
		{"gateway, admin", map[string]string{identity.Header: admin}, 200, ""},
	} {
		rec := do(e, http.MethodGet, "/admin", tt.headers, "")
		if rec.Code != tt.want || !strings.Contains(rec.Body.String(), tt.msg) {
			t.Errorf("%s: %d %s, want %d %q", tt.name, rec.Code, strings.TrimSpace(rec.Body.String()), tt.want, tt.msg)
		}
	}
}

// NewServer refuses role declarations that could never be checked.
func TestCheckRoles(t *testing.T) {
	ok := func(c echo.Context) error { return nil }
	for _, tt := range []struct {
		name  string
		route Route
		want  string // "" for accepted
	}{
		{"admin", Route{Method: "GET", Path: "/a", Identity: true, Roles: []string{"admin"}}, ""},
		{"names with punctuation", Route{Method: "GET", Path: "/a", Identity: true, Roles: []string{"notes:admin", "team.lead", "on-call_2"}}, ""},
		{"no identity", Route{Method: "GET", Path: "/a", Roles: []string{"admin"}}, "does not read the caller's identity"},
		{"empty name", Route{Method: "GET", Path: "/a", Identity: true, Roles: []string{""}}, "is not a role name"},
		{"space", Route{Method: "GET", Path: "/a", Identity: true, Roles: []string{"super admin"}}, "is not a role name"},
		{"too long", Route{Method: "GET", Path: "/a", Identity: true, Roles: []string{strings.Repeat("r", 65)}}, "is not a role name"},
		{"twice", Route{Method: "GET", Path: "/a", Identity: true, Roles: []string{"admin", "admin"}}, "listed twice"},
	} {
		_, err := NewServer(Options{GatewayServiceAccount: gatewaytest.Account}, []Handler{{Route: tt.route, Func: ok}})
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: %v, want an error with %q", tt.name, err, tt.want)
		}
	}
}
