package stack

import (
	"fmt"
	"strings"
	"testing"
)

// TestNames: every physical name, and the original backend's, which keep
// the form a stack deployed before every backend was an entry has (so it
// upgrades in place).
func TestNames(t *testing.T) {
	n := Names{Service: "gatehouse", Project: "my-project-1", Region: "europe-west1"}
	tests := []struct{ got, want string }{
		{n.CloudRunService("v1"), "gatehouse"},
		{n.CloudRunService("notes"), "gatehouse-notes"},
		{n.Image("v1"), "europe-west1-docker.pkg.dev/my-project-1/gatehouse/gatehouse"},
		{n.Image("notes"), "europe-west1-docker.pkg.dev/my-project-1/gatehouse/gatehouse-notes"},
		{n.Repository(), "gatehouse"},
		{n.API(), "gatehouse"},
		{n.RuntimeAccount("v1").ID, "gatehouse-runtime"},
		{n.RuntimeAccount("v1").DisplayName, "gatehouse Cloud Run runtime"},
		{n.RuntimeAccount("v1").Description, "Identity of the gatehouse backend on Cloud Run. Holds no project roles."},
		{n.RuntimeAccount("v1").Key + "/" + n.RuntimeAccount("v1").FormerKey, "v1-runtime/runtime"},
		{n.RuntimeAccount("notes").ID, "gatehouse-notes-rt"},
		{n.RuntimeAccount("notes").DisplayName, "gatehouse notes runtime"},
		{n.RuntimeAccount("notes").Key + "/" + n.RuntimeAccount("notes").FormerKey, "notes-runtime/"},
		{n.GatewayAccount().ID, "gatehouse-gateway"},
		{n.GatewayAccount().DisplayName, "gatehouse API Gateway"},
		{n.DeployerID(), "gatehouse-deploy"},
		{n.PreviewerID(), "gatehouse-preview"},
		{n.Email("gatehouse-gateway"), "gatehouse-gateway@my-project-1.iam.gserviceaccount.com"},
		{n.AccountResourceID("gatehouse-runtime"), "projects/my-project-1/serviceAccounts/gatehouse-runtime@my-project-1.iam.gserviceaccount.com"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	var keys []string
	for _, a := range n.Accounts([]string{"v1", "notes"}) {
		keys = append(keys, a.Key+"="+a.ID)
	}
	if got := strings.Join(keys, " "); got != "v1-runtime=gatehouse-runtime notes-runtime=gatehouse-notes-rt gateway=gatehouse-gateway" {
		t.Errorf("Accounts = %s", got)
	}
}

func TestNamesCheck(t *testing.T) {
	long := Names{Service: "a-twenty-two-char-name"} // 22 characters, the most serviceName allows
	problems := long.Check([]string{"v1", "n", "notes"})
	if problems[0] != nil || problems[1] != nil {
		t.Errorf("v1 and n fit with a 22-character service name: %v", problems)
	}
	if err := problems[2]; err == nil || !strings.Contains(err.Error(), "must fit in 30 characters") {
		t.Errorf(`"notes" with a 22-character service name: %v, want too long`, err)
	}
	if fmt.Sprint(Names{Service: "gatehouse"}.Check([]string{"v1", "notes", "x"})) != "map[]" {
		t.Error("ordinary names refused")
	}
}
