package cloud

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDeviationsInREADME keeps the README's list of differences from Google
// Cloud the same as Deviations: each item, title and reason, appears there,
// and the README lists no other.
func TestDeviationsInREADME(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	start := strings.Index(text, "Differences from Google Cloud (kept equal to `cloud.Deviations`")
	if start < 0 {
		t.Fatal("README has no list of the local cloud's differences from Google Cloud")
	}
	section := text[start:]
	section = section[:strings.Index(section, "\n## ")]
	for _, d := range Deviations {
		if line := "- **" + d.Title + "**: " + d.Reason; !strings.Contains(section, line) {
			t.Errorf("README lacks deviation %q as %q", d.Title, line)
		}
	}
	if n := strings.Count(section, "\n- **"); n != len(Deviations) {
		t.Errorf("README lists %d deviations, the code %d", n, len(Deviations))
	}
}
