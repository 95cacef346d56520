package cloud

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// authSignUp serves Firebase Auth's accounts:signUp under the Auth
// emulator's path layout (/identitytoolkit.googleapis.com/v1/accounts:signUp),
// so that the gatehouse CLI with FIREBASE_AUTH_EMULATOR_HOST set to the
// cloud signs up against what the stack deployed: the API key must be a
// web app's key of a project (else 400 API_KEY_INVALID), and the project's
// Identity Platform config must allow email/password sign-in (else
// CONFIGURATION_NOT_FOUND / OPERATION_NOT_ALLOWED, Firebase's codes,
// https://firebase.google.com/docs/reference/rest/auth#section-create-email-password).
// The ID token is unsigned, as the emulator's are. This is the data plane's
// smallest part, only for checking endpoint discovery end to end.
func (c *Cloud) authSignUp(w http.ResponseWriter, r *http.Request) {
	entry := LogEntry{Method: r.Method, Path: r.URL.Path, MethodID: "identitytoolkit.accounts.signUp", Code: 200}
	defer func() { c.record(entry) }()
	fail := func(code string) {
		entry.Code, entry.Status, entry.Message = 400, "INVALID_ARGUMENT", code
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"code": 400, "message": code,
			"errors": []map[string]any{{"message": code, "domain": "global", "reason": "invalid"}}}})
	}
	key := r.URL.Query().Get("key")
	var in struct{ Email, Password string }
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&in); err != nil {
		fail("INVALID_JSON")
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock() // before record (deferred first), which locks too
	var project *Project
	for name, obj := range c.st.Objects {
		if !strings.Contains(name, "/webApps/") {
			continue
		}
		p := c.projectOf(name)
		if p != nil && "AIza"+c.apiKey(p.ID, obj["appId"]) == key {
			project = p
		}
	}
	if project == nil {
		fail("API_KEY_INVALID")
		return
	}
	cfg, ok := c.st.Objects["projects/"+project.ID+"/config"]
	if !ok {
		fail("CONFIGURATION_NOT_FOUND")
		return
	}
	si, _ := cfg["signIn"].(map[string]any)
	em, _ := si["email"].(map[string]any)
	if em["enabled"] != true {
		fail("OPERATION_NOT_ALLOWED")
		return
	}
	if !strings.Contains(in.Email, "@") {
		fail("INVALID_EMAIL")
		return
	}
	if len(in.Password) < 6 {
		fail("WEAK_PASSWORD : Password should be at least 6 characters")
		return
	}
	uid := c.st.hexID(28, project.ID, in.Email)
	now := c.now().Unix()
	seg := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	token := seg(map[string]any{"alg": "none", "typ": "JWT"}) + "." + seg(map[string]any{
		"iss": "https://securetoken.google.com/" + project.ID, "aud": project.ID, "sub": uid, "user_id": uid,
		"email": in.Email, "iat": now, "exp": now + 3600, "auth_time": now,
		"firebase": map[string]any{"sign_in_provider": "password"},
	}) + "."
	writeJSON(w, http.StatusOK, map[string]any{"kind": "identitytoolkit#SignupNewUserResponse", "idToken": token,
		"refreshToken": fmt.Sprintf("local-refresh-%s", uid), "expiresIn": "3600", "localId": uid, "email": in.Email})
}
