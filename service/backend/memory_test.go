package backend

import (
	"os"
	"testing"
)

func TestContainerMemory(t *testing.T) {
	files := func(m map[string]string) func(string) ([]byte, error) {
		return func(p string) ([]byte, error) {
			if v, ok := m[p]; ok {
				return []byte(v), nil
			}
			return nil, os.ErrNotExist
		}
	}
	for _, tt := range []struct {
		name  string
		files map[string]string
		want  int64
		ok    bool
	}{
		{"cgroup v2, 512Mi", map[string]string{"/sys/fs/cgroup/memory.max": "536870912\n"}, 512 << 20, true},
		{"cgroup v2, no limit", map[string]string{"/sys/fs/cgroup/memory.max": "max\n"}, 0, false},
		{"cgroup v1, 1Gi", map[string]string{"/sys/fs/cgroup/memory/memory.limit_in_bytes": "1073741824"}, 1 << 30, true},
		{"cgroup v1, unlimited", map[string]string{"/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712"}, 0, false},
		{"no cgroup", nil, 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := containerMemory(files(tt.files))
			if got != tt.want || ok != tt.ok {
				t.Errorf("containerMemory = %d, %v, want %d, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}
