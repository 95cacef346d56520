package main

import (
	"fmt"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// serviceEnv is a Cloud Run service's container environment variable.
func serviceEnv(s registered, name string) (string, bool) {
	for _, e := range asSlice(s.input("template.containers.0.envs")) {
		if m, _ := e.(map[string]any); m["name"] == name {
			v, _ := m["value"].(string)
			return v, true
		}
	}
	return "", false
}

// checkGatewayAccountEnv: every Cloud Run service gets
// GATEWAY_SERVICE_ACCOUNT = the gateway account's email, the one account
// its backend serves the caller identity to (contract C2; #28 item 3).
func checkGatewayAccountEnv(rs []registered) error {
	gw := accountEmail(rs, "-gateway")
	svcs := byType(rs, tRunService)
	if gw == "" || len(svcs) == 0 {
		return fmt.Errorf("gateway account %q, %d services", gw, len(svcs))
	}
	for _, s := range svcs {
		if v, ok := serviceEnv(s, "GATEWAY_SERVICE_ACCOUNT"); !ok || v != gw {
			return fmt.Errorf("service %s has GATEWAY_SERVICE_ACCOUNT %q (set: %v), want %s", s.str("name"), v, ok, gw)
		}
	}
	return nil
}

func TestGatewayAccountEnv(t *testing.T) {
	for name, cfg := range map[string]map[string]string{"dev": devConfig(t), "two backends": v2Config(t)} {
		res := run(t, cfg, digestA)
		if res.err != nil {
			t.Fatal(res.err)
		}
		if err := checkGatewayAccountEnv(res.m.resources); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		// Planted: a service whose variable names another account, or
		// that lacks it, fails.
		for _, plant := range []func(env map[string]any) bool{
			func(env map[string]any) bool { env["value"] = "someone-else@p.iam.gserviceaccount.com"; return true },
			func(env map[string]any) bool { return false }, // drop it
		} {
			planted := append([]registered(nil), res.m.resources...)
			for i, r := range planted {
				if r.Type != tRunService {
					continue
				}
				in := r.Inputs.Mappable()
				c := in["template"].(map[string]any)["containers"].([]any)[0].(map[string]any)
				var kept []any
				for _, e := range c["envs"].([]any) {
					if env := e.(map[string]any); env["name"] != "GATEWAY_SERVICE_ACCOUNT" || plant(env) {
						kept = append(kept, e)
					}
				}
				c["envs"] = kept
				planted[i].Inputs = resource.NewPropertyMapFromMap(in)
				break
			}
			if err := checkGatewayAccountEnv(planted); err == nil {
				t.Errorf("%s: a planted violation passes the check", name)
			}
		}
	}
}
