package backend

import (
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadConfig(t *testing.T) {
	got, err := loadConfig(env(map[string]string{
		"LISTEN_HOST": "127.0.0.1", "PORT": "9090", "LOG_LEVEL": "debug", "ACCESS_LOG": "all", "SLOW_REQUEST": "250ms", "K_SERVICE": "svc", "K_REVISION": "svc-001", "GOOGLE_CLOUD_PROJECT": "p1",
		"CORS_ALLOW_ORIGINS": "https://app.example.com/, http://localhost:3000", "REQUIRE_EMAIL_VERIFIED": "true",
		"GATEWAY_SERVICE_ACCOUNT": "gatehouse-gateway@p1.iam.gserviceaccount.com",
	}))
	want := config{host: "127.0.0.1", port: 9090, accessLog: true, slowRequest: 250 * time.Millisecond, logLevel: slog.LevelDebug, service: "svc", revision: "svc-001", projectID: "p1",
		corsOrigins: []string{"https://app.example.com", "http://localhost:3000"}, requireEmailVerified: true,
		gatewayAccount: "gatehouse-gateway@p1.iam.gserviceaccount.com"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("loadConfig = %+v, %v, want %+v", got, err, want)
	}
	got, err = loadConfig(env(nil))
	if err != nil || got.host != "" || got.port != 8080 || got.logLevel != slog.LevelInfo || got.corsOrigins != nil || got.requireEmailVerified {
		t.Errorf("loadConfig(empty) = %+v, %v, want port 8080 level info", got, err)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	for _, tt := range []struct{ key, val, want string }{
		{"PORT", "http", `invalid PORT "http"`},
		{"PORT", "0", `invalid PORT "0"`},
		{"PORT", "70000", `invalid PORT "70000"`},
		{"PORT", "-1", `invalid PORT "-1"`},
		{"LOG_LEVEL", "chatty", "invalid LOG_LEVEL"},
		{"LISTEN_HOST", "localhost:80", "invalid LISTEN_HOST"},
		{"ACCESS_LOG", "verbose", "invalid ACCESS_LOG"},
		{"SLOW_REQUEST", "-1s", "invalid SLOW_REQUEST"},
		{"SLOW_REQUEST", "soon", "invalid SLOW_REQUEST"},
		{"CORS_ALLOW_ORIGINS", "app.example.com", "invalid CORS_ALLOW_ORIGINS"},
		{"CORS_ALLOW_ORIGINS", "https://app.example.com/path", "invalid CORS_ALLOW_ORIGINS"},
		{"REQUIRE_EMAIL_VERIFIED", "yes", "invalid REQUIRE_EMAIL_VERIFIED"},
		{"GATEWAY_SERVICE_ACCOUNT", "gateway", "invalid GATEWAY_SERVICE_ACCOUNT"},
		{"REQUIRE_EMAIL_VERIFIED", "1", "invalid REQUIRE_EMAIL_VERIFIED"},
	} {
		_, err := loadConfig(env(map[string]string{tt.key: tt.val}))
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("loadConfig(%s=%s) error = %v, want one line containing %q", tt.key, tt.val, err, tt.want)
		}
	}
}
