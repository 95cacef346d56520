package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/local/internal/testenv"
)

// install returns the firebase CLI, installing it when needed; without npm
// it skips, except under CI, where a missing tool fails.
func install(t *testing.T, log *bytes.Buffer) string {
	t.Helper()
	wd, _ := os.Getwd()
	root, err := testenv.RepoRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	bin, err := Install(t.Context(), CacheDir(root), log, log)
	if errors.Is(err, ErrNoNPM) && os.Getenv("CI") != "true" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	return bin
}

// call calls the emulator's REST API; they return the status.
func call(t *testing.T, host, method, email string) int {
	t.Helper()
	body := `{"email":"` + email + `","password":"secret123","returnSecureToken":true}`
	res, err := http.Post("http://"+host+"/identitytoolkit.googleapis.com/v1/accounts:"+method+"?key=any", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestEmulatorKeepsAccounts: with a DataDir, an account signed up before a
// restart can sign in after it; without one, it is gone (the negative).
func TestEmulatorKeepsAccounts(t *testing.T) {
	var log bytes.Buffer
	bin := install(t, &log)
	for _, tt := range []struct {
		name    string
		dataDir string
		want    int // signInWithPassword after the restart
	}{
		{"with a data dir", t.TempDir() + "/auth", http.StatusOK},
		{"without", "", http.StatusBadRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Start(t.Context(), Options{Bin: bin, Log: &log, DataDir: tt.dataDir})
			if err != nil {
				t.Fatalf("%v\n%s", err, log.String())
			}
			if code := call(t, e.Host, "signUp", "keep@example.com"); code != http.StatusOK {
				t.Fatalf("signUp = %d", code)
			}
			if err := e.Stop(); err != nil {
				t.Fatal(err)
			}
			e, err = Start(t.Context(), Options{Bin: bin, Log: &log, DataDir: tt.dataDir})
			if err != nil {
				t.Fatalf("restart: %v\n%s", err, log.String())
			}
			defer e.Stop()
			if code := call(t, e.Host, "signInWithPassword", "keep@example.com"); code != tt.want {
				t.Errorf("signIn after restart = %d, want %d\n%s", code, tt.want, log.String())
			}
		})
	}
}

// TestEmulator starts the real emulator, signs a user up through its REST
// API, resets it and stops it.
func TestEmulator(t *testing.T) {
	var log bytes.Buffer
	bin := install(t, &log)
	e, err := Start(t.Context(), Options{Bin: bin, Log: &log})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	body := `{"email":"probe@example.com","password":"secret123","returnSecureToken":true}`
	res, err := http.Post("http://"+e.Host+"/identitytoolkit.googleapis.com/v1/accounts:signUp?key=any", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ IDToken, LocalID string }
	err = json.NewDecoder(res.Body).Decode(&got)
	res.Body.Close()
	if err != nil || res.StatusCode != 200 || got.IDToken == "" {
		t.Fatalf("signUp = %d %+v %v", res.StatusCode, got, err)
	}
	if err := e.Reset(); err != nil {
		t.Fatal(err)
	}
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(e.Host)
	if n, err := strconv.Atoi(port); err != nil || !testenv.PortFree(n) {
		t.Errorf("emulator port %s still bound after Stop (%v)", e.Host, err)
	}
}

// TestSignUpDisabled: with DisableUserSignup an end user's sign-up is
// refused as Identity Platform refuses it with disabledUserSignup (400
// ADMIN_ONLY_OPERATION, readable by a page of another origin), while an
// administrator's request still creates an account, which then signs in;
// without it (the negative) anyone signs up. Stop frees the address.
func TestSignUpDisabled(t *testing.T) {
	var log bytes.Buffer
	bin := install(t, &log)
	for _, disabled := range []bool{true, false} {
		t.Run("disabled="+strconv.FormatBool(disabled), func(t *testing.T) {
			port, err := testenv.FreePort()
			if err != nil {
				t.Fatal(err)
			}
			e, err := Start(t.Context(), Options{Bin: bin, Log: &log, Port: port, DisableUserSignup: disabled})
			if err != nil {
				t.Fatalf("%v\n%s", err, log.String())
			}
			defer e.Stop()
			if e.Host != "127.0.0.1:"+strconv.Itoa(port) {
				t.Errorf("Host = %s, want the port asked for, %d", e.Host, port)
			}
			base := "http://" + e.Host + "/identitytoolkit.googleapis.com/v1/"
			req, _ := http.NewRequest(http.MethodPost, base+"accounts:signUp?key=any",
				strings.NewReader(`{"email":"eve@example.com","password":"secret123","returnSecureToken":true}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Origin", "http://127.0.0.1:8082")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var answer struct{ Error struct{ Message string } }
			_ = json.NewDecoder(res.Body).Decode(&answer)
			res.Body.Close()
			if disabled {
				if res.StatusCode != http.StatusBadRequest || answer.Error.Message != "ADMIN_ONLY_OPERATION" || res.Header.Get("Access-Control-Allow-Origin") != "http://127.0.0.1:8082" {
					t.Errorf("sign-up with sign-up disabled = %d %q (CORS %q), want 400 ADMIN_ONLY_OPERATION readable cross-origin",
						res.StatusCode, answer.Error.Message, res.Header.Get("Access-Control-Allow-Origin"))
				}
				if code := call(t, e.Host, "signInWithPassword", "eve@example.com"); code == http.StatusOK {
					t.Error("the refused account signs in")
				}
			} else if res.StatusCode != http.StatusOK {
				t.Errorf("sign-up with sign-up open = %d %q, want 200", res.StatusCode, answer.Error.Message)
			}
			// An administrator creates an account either way.
			req, _ = http.NewRequest(http.MethodPost, base+"projects/"+DefaultProject+"/accounts",
				strings.NewReader(`{"email":"ada@example.com","password":"secret123"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer owner")
			res, err = http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Errorf("admin account creation = %d, want 200", res.StatusCode)
			}
			if code := call(t, e.Host, "signInWithPassword", "ada@example.com"); code != http.StatusOK {
				t.Errorf("the admin-created account signs in: %d, want 200", code)
			}
			if err := e.Stop(); err != nil {
				t.Fatal(err)
			}
			if !testenv.PortFree(port) {
				t.Errorf("port %d still bound after Stop", port)
			}
		})
	}
}
