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
)

// TestEmulator starts the real emulator, signs a user up through its REST
// API, resets it and stops it.
func TestEmulator(t *testing.T) {
	wd, _ := os.Getwd()
	root, err := RepoRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	bin, err := Install(t.Context(), CacheDir(root), &log)
	if errors.Is(err, ErrNoNPM) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
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
	if n, err := strconv.Atoi(port); err != nil || !PortFree(n) {
		t.Errorf("emulator port %s still bound after Stop (%v)", e.Host, err)
	}
}
