package backend

import (
	"strconv"
	"strings"
)

// containerMemory reads the container's memory limit from the cgroup (v2,
// then v1). Cloud Run sets it to the service's memory limit. No limit
// ("max", or a v1 value near the maximum int64) reports false.
func containerMemory(readFile func(string) ([]byte, error)) (int64, bool) {
	for _, path := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := readFile(path)
		if err != nil {
			continue
		}
		v := strings.TrimSpace(string(b))
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 || n >= 1<<60 {
			return 0, false // "max" or unlimited
		}
		return n, true
	}
	return 0, false
}
