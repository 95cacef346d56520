package emulator

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"
)

// The Firebase Auth emulator has no "sign-up disabled" setting for a
// project: it stores client.permissions.disabledUserSignup when its admin
// config endpoint is given one, but never reads it (firebase-tools 15.34.2,
// lib/emulator/auth/state.js: a project's allowPasswordSignup is always
// true; only tenants can turn it off). Identity Platform with that setting
// refuses an end user's sign-up with ADMIN_ONLY_OPERATION ("When true, end
// users cannot sign up for a new account on the associated project through
// any of our API methods": Identity Toolkit v2 ClientPermissions) and still
// lets an administrator create accounts. The Firebase SDKs know that code
// (the JS SDK maps it to auth/admin-restricted-operation).
//
// So with Options.DisableUserSignup the emulator runs behind signUpGate, a
// reverse proxy on the emulator's address that answers end users' sign-up
// as Identity Platform does and passes everything else on.

// adminOnly is Identity Toolkit's answer to a refused sign-up, in the
// emulator's error shape.
var adminOnly = map[string]any{"error": map[string]any{
	"code": http.StatusBadRequest, "message": "ADMIN_ONLY_OPERATION",
	"errors": []map[string]string{{"message": "ADMIN_ONLY_OPERATION", "reason": "invalid", "domain": "global"}},
}}

// isSignUp reports whether r creates an account: accounts:signUp, with or
// without a project (and tenant) in its path, or the admin form POST
// .../projects/P/accounts.
func isSignUp(r *http.Request) bool {
	if r.Method != http.MethodPost {
		return false
	}
	p := r.URL.Path
	if !strings.HasPrefix(p, "/identitytoolkit.googleapis.com/") {
		return false
	}
	return strings.HasSuffix(p, "/accounts:signUp") || strings.HasSuffix(p, "/accounts")
}

// isAdmin reports whether r carries OAuth credentials, as an administrator's
// request does (the emulator takes "Bearer owner" as the project's owner and
// checks any other bearer itself).
func isAdmin(r *http.Request) bool {
	return strings.HasPrefix(strings.ToLower(r.Header.Get("Authorization")), "bearer ")
}

// signUpGate passes requests to the emulator at target (host:port), but
// answers an end user's sign-up 400 ADMIN_ONLY_OPERATION, with the CORS
// headers the emulator would send (it allows any origin), so a browser page
// reads the refusal.
func signUpGate(target string) http.Handler {
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: target})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isSignUp(r) || isAdmin(r) {
			proxy.ServeHTTP(w, r)
			return
		}
		if origin := r.Header.Get("Origin"); origin != "" {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Add("Vary", "Origin")
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(adminOnly)
	})
}

// serveGate serves signUpGate for target on ln.
func serveGate(ln net.Listener, target string) *http.Server {
	srv := &http.Server{Handler: signUpGate(target), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return srv
}
