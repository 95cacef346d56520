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

func TestServesTheClient(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"index.html", "app.js", "config.json"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("content of "+f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	var out bytes.Buffer
	go func() { done <- run(ctx, []string{"-dir", dir, "-port", strconv.Itoa(port)}, &out, io.Discard) }()
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/config.json"
	var body []byte
	for i := 0; i < 100; i++ {
		if res, err := http.Get(url); err == nil {
			body, _ = io.ReadAll(res.Body)
			res.Body.Close()
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if string(body) != "content of config.json" {
		t.Errorf("config.json = %q", body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run after cancel = %v", err)
	}
	// Without a config.json it refuses to start, saying what to do.
	os.Remove(filepath.Join(dir, "config.json"))
	if err := run(t.Context(), []string{"-dir", dir, "-port", "0"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "make web-deployed") {
		t.Errorf("no config.json: %v", err)
	}
}
