package lifecycle

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkWarmUp measures a warm `pulumi up` of the dev stack against the
// local Google Cloud (program compiled, image layers cached, cloud
// running), two ways: a full deploy after a destroy, and an up with
// nothing to change. It reports where the time goes: the cloud's own time
// (every operation is done in its first answer, so the provider never
// polls), the Docker build and push, and the rest, which is the engine's
// and the provider's own (its fixed sleeps: 10 s after creating a service
// account, the 3 s batching window of service enablement, at least 3 reads
// 1 s apart after each IAM change; see ../shared/reference/gcp-control-plane.md
// §3.12). The ratio cloud/wall is what the local cloud could still save.
//
//	make cloud-bench
func BenchmarkWarmUp(b *testing.B) {
	e := needLifecycle(b)
	project := fmt.Sprintf("gatehouse-bench-%d", time.Now().Unix()%100000)
	e.project(b, project, 0)
	s := e.newStack(b, project, false, "", nil)
	if out, err := s.up("bench: first up (fills the caches)"); err != nil {
		b.Fatalf("first up: %v\n%s", err, tail(out, 30))
	}
	var full, noop, cloud, docker time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if out, err := s.run("destroy", "--yes", "--skip-preview", "--stack", s.name); err != nil {
			b.Fatalf("destroy: %v\n%s", err, tail(out, 30))
		}
		s.config(map[string]string{"gatehouse:identityPlatformExists": "true"})
		if out, err := s.up("bench: warm full deploy"); err != nil {
			b.Fatalf("up: %v\n%s", err, tail(out, 30))
		}
		tm := s.timings[len(s.timings)-1]
		full += tm.Wall
		cloud += tm.Cloud
		docker += tm.Docker
		if out, err := s.up("bench: warm up with nothing to change"); err != nil {
			b.Fatalf("no-op up: %v\n%s", err, tail(out, 30))
		}
		noop += s.timings[len(s.timings)-1].Wall
	}
	n := float64(b.N)
	b.ReportMetric(full.Seconds()/n, "s/full-up")
	b.ReportMetric(noop.Seconds()/n, "s/noop-up")
	b.ReportMetric(cloud.Seconds()/n, "cloud-s/full-up")
	b.ReportMetric(docker.Seconds()/n, "docker-s/full-up")
	b.ReportMetric(cloud.Seconds()/full.Seconds(), "cloud/wall")
	fmt.Printf("warm full up %.1fs: the cloud %.2fs (%.1f%%), docker %.1fs, engine and provider %.1fs; warm no-op up %.1fs\n",
		full.Seconds()/n, cloud.Seconds()/n, 100*cloud.Seconds()/full.Seconds(), docker.Seconds()/n,
		(full-cloud-docker).Seconds()/n, noop.Seconds()/n)
}
