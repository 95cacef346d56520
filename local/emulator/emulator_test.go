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
