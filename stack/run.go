package stack

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"
)

// RunSettings are a Cloud Run service's sizing settings.
type RunSettings struct {
	MinInstances, MaxInstances, Concurrency int
	CPU, Memory                             string
	RequestTimeout                          time.Duration
}

var (
	cpuRe    = regexp.MustCompile(`^([0-9]+)(m?)$`)
	memoryRe = regexp.MustCompile(`^([0-9]+)(Mi|Gi)$`)
)

// Cloud Run's CPU and memory rules for services, from
// https://cloud.google.com/run/docs/configuring/services/cpu and
// https://cloud.google.com/run/docs/configuring/services/memory-limits:
//   - CPU is 1, 2, 4, 6 or 8, or below 1 a value from 0.08 in steps of 0.01
//     (80m to 990m here);
//   - below 1 CPU, maximum concurrency must be 1, a memory limit above 512Mi
//     needs at least 0.5 CPU and one above 1Gi at least 1 CPU;
//   - memory is 128Mi to 32Gi, and each CPU count has a range: 1 CPU up to
//     4Gi, 2 CPU up to 8Gi, 4 CPU 2Gi-16Gi, 6 CPU 4Gi-24Gi, 8 CPU 4Gi-32Gi.

// checkRun applies Cloud Run's limits to one service's settings; keys are
// prefix + the setting's name.
func checkRun(prefix string, r RunSettings, deadline time.Duration, bad func(key, format string, args ...any)) {
	if r.MinInstances < 0 {
		bad(prefix+"minInstances", "must be 0 or more, got %d", r.MinInstances)
	}
	if r.MaxInstances < 1 || r.MaxInstances > 1000 {
		bad(prefix+"maxInstances", "must be from 1 to 1000, got %d", r.MaxInstances)
	}
	if r.MinInstances > r.MaxInstances {
		bad(prefix+"minInstances", "%d is more than maxInstances %d", r.MinInstances, r.MaxInstances)
	}
	milli, cpuErr := parseCPU(r.CPU)
	if cpuErr != nil {
		bad(prefix+"cpu", "%q %v", r.CPU, cpuErr)
	}
	mib, memErr := parseMemory(r.Memory)
	if memErr != nil {
		bad(prefix+"memory", "%q %v", r.Memory, memErr)
	}
	if r.Concurrency < 1 || r.Concurrency > 1000 {
		bad(prefix+"concurrency", "must be from 1 to 1000, got %d", r.Concurrency)
	}
	if cpuErr == nil && memErr == nil {
		for _, p := range cpuMemoryRules(milli, mib, r.Concurrency) {
			bad(prefix+p.key, "%s", p.msg)
		}
	}
	if r.RequestTimeout < time.Second || r.RequestTimeout > time.Hour {
		bad(prefix+"requestTimeout", "must be from 1s to 1h, got %v", r.RequestTimeout)
	} else if deadline > r.RequestTimeout {
		bad(prefix+"requestTimeout", "must be at least backendDeadline (%v), got %v", deadline, r.RequestTimeout)
	}
}

// parseCPU returns the CPU limit in millicpu.
func parseCPU(v string) (int, error) {
	m := cpuRe.FindStringSubmatch(v)
	if m == nil {
		return 0, errors.New("must be 1, 2, 4, 6 or 8, or millicpu from 80m to 990m such as 500m")
	}
	var n int
	fmt.Sscan(m[1], &n)
	if m[2] == "" {
		n *= 1000
	}
	switch {
	case n >= 1000 && n%1000 == 0 && slices.Contains([]int{1, 2, 4, 6, 8}, n/1000):
		return n, nil
	case n >= 80 && n < 1000 && n%10 == 0:
		return n, nil
	}
	return 0, errors.New("must be 1, 2, 4, 6 or 8, or millicpu from 80m to 990m in steps of 10m (Cloud Run's allowed values)")
}

// parseMemory returns the memory limit in MiB.
func parseMemory(v string) (int, error) {
	m := memoryRe.FindStringSubmatch(v)
	if m == nil {
		return 0, errors.New("must be a size such as 512Mi or 2Gi")
	}
	var n int
	fmt.Sscan(m[1], &n)
	if m[2] == "Gi" {
		n *= 1024
	}
	if n < 128 || n > 32*1024 {
		return 0, errors.New("must be from 128Mi to 32Gi")
	}
	return n, nil
}

type problem struct{ key, msg string }

// cpuMemoryRules checks the combination; each problem names both keys.
func cpuMemoryRules(milli, mib, concurrency int) []problem {
	var out []problem
	cpu := fmt.Sprintf("cpu %s", cpuString(milli))
	if milli < 1000 {
		if concurrency != 1 {
			out = append(out, problem{"concurrency", fmt.Sprintf("must be 1 with %s below 1 CPU (Cloud Run), got %d", cpu, concurrency)})
		}
		if mib > 1024 {
			out = append(out, problem{"memory", fmt.Sprintf("above 1Gi needs cpu of at least 1, got %s", cpu)})
		} else if mib > 512 && milli < 500 {
			out = append(out, problem{"memory", fmt.Sprintf("above 512Mi needs cpu of at least 500m, got %s", cpu)})
		}
		return out
	}
	limits := map[int][2]int{1: {128, 4096}, 2: {128, 8192}, 4: {2048, 16384}, 6: {4096, 24576}, 8: {4096, 32768}}
	r := limits[milli/1000]
	if mib < r[0] || mib > r[1] {
		out = append(out, problem{"memory", fmt.Sprintf("with %s must be from %s to %s (Cloud Run), got %s", cpu, mibString(r[0]), mibString(r[1]), mibString(mib))})
	}
	return out
}

func cpuString(milli int) string {
	if milli%1000 == 0 {
		return fmt.Sprint(milli / 1000)
	}
	return fmt.Sprintf("%dm", milli)
}

func mibString(mib int) string {
	if mib%1024 == 0 {
		return fmt.Sprintf("%dGi", mib/1024)
	}
	return fmt.Sprintf("%dMi", mib)
}

// BelowOneCPU says whether the CPU limit is a fraction of one CPU, where
// Cloud Run requires the first-generation execution environment ("If you
// use less than 1 vCPU ... Execution environment: You must use the first
// generation execution environment",
// https://cloud.google.com/run/docs/configuring/services/cpu).
func (r RunSettings) BelowOneCPU() bool {
	milli, err := parseCPU(r.CPU)
	return err == nil && milli < 1000
}
