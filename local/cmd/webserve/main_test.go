package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const deployedConfig = `{"apiKey":"k","projectId":"p","authDomain":"p.firebaseapp.com","gatewayUrl":"https://gw-abc.ew.gateway.dev"}`

func writeClient(t *testing.T, config string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{"index.html": "<!doctype html>page", "app.js": "app", "config.json": config,
		".env": "SECRET=1", "assets/logo.txt": "logo"} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

type answer struct {
	status int
	header http.Header
	body   string
}

func fetch(t *testing.T, port int, host, path string) answer {
	t.Helper()
	req, err := http.NewRequest("GET", "http://127.0.0.1:"+strconv.Itoa(port)+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return answer{res.StatusCode, res.Header, string(b)}
}

func TestServesTheClient(t *testing.T) {
	dir := writeClient(t, deployedConfig)
	port := freePort(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	var out bytes.Buffer
	go func() { done <- run(ctx, []string{"-dir", dir, "-port", strconv.Itoa(port)}, &out, io.Discard) }()
	self := "127.0.0.1:" + strconv.Itoa(port)
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", self); err == nil {
			c.Close()
			break
		}
		time.Sleep(20 * time.Millisecond)
	}

	if a := fetch(t, port, self, "/config.json"); a.status != 200 || a.body != deployedConfig {
		t.Errorf("config.json = %d %q", a.status, a.body)
	}
	page := fetch(t, port, self, "/")
	if page.status != 200 || page.body != "<!doctype html>page" {
		t.Errorf("/ = %d %q", page.status, page.body)
	}
	csp := page.header.Get("Content-Security-Policy")
	for _, want := range []string{"frame-ancestors 'none'", "script-src 'self'", "connect-src 'self' https://gw-abc.ew.gateway.dev "} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if got := page.header.Get("X-Frame-Options"); got != "DENY" {
		t.Errorf("X-Frame-Options %q", got)
	}
	// Only the built files: no dotfiles, no directory listings.
	for _, p := range []string{"/.env", "/assets/"} {
		if a := fetch(t, port, self, p); a.status != 404 || !strings.Contains(a.body, `"code":404`) {
			t.Errorf("%s = %d %q, want a JSON 404", p, a.status, a.body)
		}
	}
	// Only loopback Host names (DNS rebinding).
	if a := fetch(t, port, "localhost:"+strconv.Itoa(port), "/"); a.status != 200 {
		t.Errorf("Host localhost = %d", a.status)
	}
	if a := fetch(t, port, "rebound.example:"+strconv.Itoa(port), "/config.json"); a.status != http.StatusMisdirectedRequest || !strings.Contains(a.body, `"code":421`) {
		t.Errorf("Host rebound.example = %d %q, want a JSON 421", a.status, a.body)
	}

	cancel()
	if err := <-done; err != nil {
		t.Errorf("run after cancel = %v", err)
	}
}

func TestRefusesToStart(t *testing.T) {
	// Without a config.json it refuses to start, saying what to do.
	dir := writeClient(t, deployedConfig)
	os.Remove(filepath.Join(dir, "config.json"))
	if err := run(t.Context(), []string{"-dir", dir, "-port", "0"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "make web-deployed") {
		t.Errorf("no config.json: %v", err)
	}
	// A gateway the page would refuse (plain http off this machine) is
	// refused here too.
	dir = writeClient(t, `{"apiKey":"k","projectId":"p","gatewayUrl":"http://gw.example.com"}`)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second) // a server that starts is stopped
	defer cancel()
	if err := run(ctx, []string{"-dir", dir, "-port", strconv.Itoa(freePort(t))}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "must use https") {
		t.Errorf("http gateway: %v, want a refusal to start", err)
	}
}
