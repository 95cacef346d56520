package claims

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/client/internal/authadmin"
	"github.com/gatehouse/gatehouse/client/internal/cmdutil"
	"github.com/gatehouse/gatehouse/client/internal/target"
)

func TestNewCmdClaims(t *testing.T) {
	streams, _, _ := cmdutil.TestIO("")
	f := &cmdutil.Factory{IO: streams, Resolver: &target.Resolver{}}
	for _, tt := range []struct {
		args   []string
		action string
		email  string
		claims string
		err    string
	}{
		{[]string{"set", "ada@example.com", `{"roles":["admin"]}`, "--project", "p-123456"}, Set, "ada@example.com", `{"roles":["admin"]}`, ""},
		{[]string{"get", "ada@example.com", "--stack", "prod"}, Get, "ada@example.com", "", ""},
		{[]string{"clear", "ada@example.com"}, Clear, "ada@example.com", "", ""},
		{[]string{"set", "ada@example.com"}, "", "", "", "claims set takes EMAIL CLAIMS"},
		{[]string{"get"}, "", "", "", "claims get takes EMAIL"},
		{[]string{"clear", "a@b.c", "extra"}, "", "", "", "claims clear takes EMAIL"},
		{[]string{}, "", "", "", "claims needs a subcommand"},
	} {
		var got *Options
		cmd := NewCmdClaims(f, func(_ context.Context, o *Options) error { got = o; return nil })
		cmd.SetArgs(tt.args)
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		err := cmd.Execute()
		if tt.err != "" {
			if err == nil || !cmdutil.IsUsage(err) || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%v: %v, want usage error %q", tt.args, err, tt.err)
			}
			continue
		}
		if err != nil || got == nil || got.Action != tt.action || got.Email != tt.email || got.Claims != tt.claims {
			t.Errorf("%v: %+v, %v", tt.args, got, err)
		}
	}
}

// fakeAdmin is the admin API with one account.
type fakeAdmin struct {
	claims   string
	projects []string
	sets     []string
}

func (a *fakeAdmin) LookupEmail(_ context.Context, project, email string) (*authadmin.User, error) {
	a.projects = append(a.projects, project)
	if email != "ada@example.com" {
		return nil, &authadmin.NotFoundError{Email: email, Project: project}
	}
	return &authadmin.User{UID: "uid-ada", Email: email, Claims: []byte(a.claims)}, nil
}

func (a *fakeAdmin) SetClaims(_ context.Context, project, uid string, claims []byte) error {
	a.sets = append(a.sets, project+" "+uid+" "+string(claims))
	a.claims = string(claims)
	return nil
}

// options runs against admin, with the emulator at emu ("" for Google)
// and a stack whose firebaseProjectId is stack-project.
func options(admin *fakeAdmin, emu string, stackLookups *int) (*Options, func() (string, string)) {
	streams, stdout, stderr := cmdutil.TestIO("")
	return &Options{
			IO: streams, EmulatorHost: func() string { return emu },
			Admin: func(host string) (Admin, error) {
				if host != emu {
					return nil, errors.New("wrong emulator host")
				}
				return admin, nil
			},
			FirebaseProject: func(context.Context, string) (string, error) { *stackLookups++; return "stack-project", nil },
		}, func() (string, string) {
			return stdout.String(), stderr.String()
		}
}

func TestRunSetGetClear(t *testing.T) {
	admin := &fakeAdmin{claims: `{}`}
	lookups := 0
	opts, out := options(admin, "", &lookups)
	opts.Action, opts.Email, opts.Claims = Set, "ada@example.com", ` {"roles": ["admin"], "plan": "pro"} `
	if err := run(t.Context(), opts); err != nil {
		t.Fatal(err)
	}
	stdout, _ := out()
	for _, want := range []string{
		`set the custom claims of ada@example.com to {"plan":"pro","roles":["admin"]} (project stack-project, uid uid-ada; were {})`,
		"ada@example.com now holds the role admin. Their ID token shows it when it is next refreshed",
		"gatehouse token --refresh",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("set printed %q, want %q", stdout, want)
		}
	}
	if len(admin.sets) != 1 || admin.sets[0] != `stack-project uid-ada {"plan":"pro","roles":["admin"]}` || lookups != 1 {
		t.Errorf("sets %q after %d stack lookups", admin.sets, lookups)
	}

	opts, out = options(admin, "", &lookups)
	opts.Action, opts.Email, opts.Project = Get, "ada@example.com", "other-project"
	if err := run(t.Context(), opts); err != nil {
		t.Fatal(err)
	}
	if stdout, _ := out(); stdout != `{"plan":"pro","roles":["admin"]}`+"\n" || admin.projects[len(admin.projects)-1] != "other-project" || lookups != 1 {
		t.Errorf("get printed %q for project %q", stdout, admin.projects)
	}

	opts, out = options(admin, "127.0.0.1:9099", &lookups)
	opts.Action, opts.Email = Clear, "ada@example.com"
	if err := run(t.Context(), opts); err != nil {
		t.Fatal(err)
	}
	stdout, _ = out()
	if !strings.Contains(stdout, `cleared the custom claims of ada@example.com (the Auth emulator at 127.0.0.1:9099, uid uid-ada; were {"plan":"pro","roles":["admin"]})`) ||
		!strings.Contains(stdout, "now holds no roles") || admin.sets[1] != ` uid-ada {}` || lookups != 1 {
		t.Errorf("clear printed %q, sets %q, %d stack lookups (the emulator needs none)", stdout, admin.sets, lookups)
	}
}

// Bad input is refused with one line, exit 2, before any client exists or
// any project is looked up: nothing is sent.
func TestRunRefusesBeforeSending(t *testing.T) {
	big := `{"notes":"` + strings.Repeat("x", 1000) + `"}`
	for _, tt := range []struct {
		name, action, email, claims, project, want string
	}{
		{"oversized", Set, "ada@example.com", big, "", "the claims are 1012 bytes as JSON; Firebase takes at most 1000"},
		{"reserved", Set, "ada@example.com", `{"sub":"root"}`, "", `claim "sub" is reserved by Firebase`},
		{"shadowing", Set, "ada@example.com", `{"email":"root@example.com"}`, "", `claim "email" is set by Firebase in every ID token`},
		{"not JSON", Set, "ada@example.com", `roles=admin`, "", "the claims are not JSON"},
		{"bad roles", Set, "ada@example.com", `{"roles":"admin"}`, "", "claim roles must be a list of role names"},
		{"not an email", Get, "ada", "", "", `"ada" is not an email address`},
		{"email with a newline", Clear, "ada@example.com\n\x1b[2J", "", "", `is not an email address`},
		{"bad project", Get, "ada@example.com", "", "../../evil", `--project: "../../evil" is not a Google Cloud project id`},
	} {
		lookups := 0
		opts, _ := options(nil, "", &lookups)
		opts.Admin = func(string) (Admin, error) {
			t.Errorf("%s: an admin client was made", tt.name)
			return &fakeAdmin{}, nil
		}
		opts.Action, opts.Email, opts.Claims, opts.Project = tt.action, tt.email, tt.claims, tt.project
		err := run(t.Context(), opts)
		if err == nil || !cmdutil.IsUsage(err) || !strings.Contains(err.Error(), tt.want) || strings.ContainsAny(err.Error(), "\n\x1b") || lookups != 0 {
			t.Errorf("%s: %v (usage: %v, stack lookups %d), want a one-line usage error %q", tt.name, err, cmdutil.IsUsage(err), lookups, tt.want)
		}
		if tt.action == Set && (err == nil || !strings.HasSuffix(err.Error(), "; nothing was sent")) {
			t.Errorf("%s: %v does not say nothing was sent", tt.name, err)
		}
	}
}

// Claims from the server are shown as JSON that a terminal cannot act on.
func TestShowEscapes(t *testing.T) {
	for in, want := range map[string]string{
		`{"a":"x\u001b[2Jy"}`:     `{"a":"x\u001b[2Jy"}`,
		"{\"a\":\"x\u009b31my\"}": `{"a":"x\u009b31my"}`,
		"{\"a\":\"x\u007fy\"}":    `{"a":"x\u007fy"}`,
		`{"b":1,"a":"<&>"}`:       `{"a":"<&>","b":1}`,
		"not json \x1b[2J":        `not json \x1b[2J`,
	} {
		if got := show([]byte(in)); got != want {
			t.Errorf("show(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRunErrors(t *testing.T) {
	lookups := 0
	opts, _ := options(&fakeAdmin{claims: "{}"}, "", &lookups)
	opts.Action, opts.Email = Get, "nobody@example.com"
	if err := run(t.Context(), opts); err == nil || cmdutil.IsUsage(err) || !strings.Contains(err.Error(), "no account has the email nobody@example.com in project stack-project") {
		t.Errorf("unknown email: %v", err)
	}
	opts, _ = options(&fakeAdmin{}, "", &lookups)
	opts.Action, opts.Email = Get, "ada@example.com"
	opts.FirebaseProject = func(context.Context, string) (string, error) {
		return "", errors.New("no Firebase project: pass --project")
	}
	if err := run(t.Context(), opts); err == nil || !strings.Contains(err.Error(), "pass --project") {
		t.Errorf("no project: %v", err)
	}
}
