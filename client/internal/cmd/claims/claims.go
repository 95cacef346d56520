// Package claims implements `gatehouse claims set|get|clear EMAIL`: an
// operator's command to set, read and remove a Firebase user's custom
// claims, such as the roles backends check (`{"roles":["admin"]}`), with the
// operator's own Google credentials or against the Auth emulator.
package claims

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/client/internal/authadmin"
	"github.com/gatehouse/gatehouse/client/internal/cmdutil"
	"github.com/gatehouse/gatehouse/client/internal/printable"
)

// Admin reads and sets custom claims (authadmin.Client).
type Admin interface {
	LookupEmail(ctx context.Context, project, email string) (*authadmin.User, error)
	SetClaims(ctx context.Context, project, uid string, claims []byte) error
}

// Actions.
const (
	Set   = "set"
	Get   = "get"
	Clear = "clear"
)

// Options of claims set, get and clear.
type Options struct {
	IO           *cmdutil.IO
	EmulatorHost func() string
	// Admin is the admin client for the emulator at emulatorHost, or for
	// Google ("").
	Admin func(emulatorHost string) (Admin, error)
	// FirebaseProject reads the stack's firebaseProjectId output.
	FirebaseProject func(ctx context.Context, stack string) (string, error)

	Action  string // Set, Get or Clear
	Email   string
	Claims  string // Set: the claims, as JSON text
	Project string // --project
	Stack   string // --stack
}

// Help is what every claims command says about who may run it and when
// users see the change; its limits are authadmin's, which the CLI applies.
var Help = `Custom claims are set on a Firebase user through the Identity Toolkit admin
API, authenticated as you, the operator, with no key files: GOOGLE_OAUTH_ACCESS_TOKEN
when set, else Application Default Credentials (gcloud auth
application-default login, as for pulumi up), else gcloud auth
print-access-token. You need firebaseauth.users.get and
firebaseauth.users.update on the Firebase project: roles/firebaseauth.admin
(or roles/firebaseauth.viewer to get only; Owner and Editor have both), and,
with user credentials, serviceusage.services.use
(roles/serviceusage.serviceUsageConsumer) to bill the calls to the project.

The project is --project, else the stack's firebaseProjectId output ("pulumi
stack output --json [--stack NAME]"). With FIREBASE_AUTH_EMULATOR_HOST set,
the calls go to the Auth emulator (its own project unless --project), as its
admin; your Google credentials are not used.

Users see new claims in their ID token when it is next refreshed: within the
hour, or at once with "gatehouse token --refresh" or by signing in again.

Claims are a JSON object of at most ` + strconv.Itoa(authadmin.MaxClaimsBytes) + ` bytes; Firebase's reserved names
(` + strings.Join(authadmin.ReservedClaims, ", ") + `)
and those Firebase sets itself (` + strings.Join(authadmin.TokenClaims, ", ") + `)
are refused before anything is sent. The convention backends read is
"` + authadmin.RolesClaim + `": a list of role names.`

// NewCmdClaims is `gatehouse claims` with set, get and clear.
func NewCmdClaims(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	parent := &cobra.Command{
		Use:   "claims",
		Short: "set, get or clear a user's custom claims, such as roles (operators)",
		Long:  "Set, get or clear a Firebase user's custom claims, such as the roles backends check.\n\n" + Help,
		Args:  cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmdutil.Usagef("claims needs a subcommand: set, get or clear")
		},
	}
	sub := func(action, use, short, example string, nargs int) *cobra.Command {
		opts := &Options{
			IO: f.IO, EmulatorHost: f.EmulatorHost, FirebaseProject: f.Resolver.FirebaseProject, Action: action,
			Admin: func(host string) (Admin, error) { return f.AuthAdmin(host) },
		}
		cmd := &cobra.Command{
			Use: use, Short: short, Long: strings.ToUpper(short[:1]) + short[1:] + ".\n\n" + Help, Example: example,
			Args: func(_ *cobra.Command, args []string) error {
				if len(args) != nargs {
					return cmdutil.Usagef("%s takes %s", "claims "+action, strings.TrimPrefix(use, action+" "))
				}
				return nil
			},
			RunE: func(cmd *cobra.Command, args []string) error {
				opts.Email = args[0]
				if nargs == 2 {
					opts.Claims = args[1]
				}
				if runF != nil {
					return runF(cmd.Context(), opts)
				}
				return run(cmd.Context(), opts)
			},
		}
		cmd.Flags().StringVar(&opts.Project, "project", "", "Firebase project (else the stack's firebaseProjectId output; the emulator's own with FIREBASE_AUTH_EMULATOR_HOST)")
		cmd.Flags().StringVar(&opts.Stack, "stack", "", "Pulumi stack whose firebaseProjectId output names the project")
		return cmd
	}
	parent.AddCommand(
		sub(Set, "set EMAIL CLAIMS", "replace a user's custom claims with CLAIMS (a JSON object)",
			`  gatehouse claims set ada@example.com '{"roles":["admin"]}'`, 2),
		sub(Get, "get EMAIL", "print a user's custom claims (JSON)", `  gatehouse claims get ada@example.com`, 1),
		sub(Clear, "clear EMAIL", "remove all of a user's custom claims", `  gatehouse claims clear ada@example.com`, 1),
	)
	return parent
}

func run(ctx context.Context, opts *Options) error {
	// Every input is checked before anything is sent, or any project is
	// looked up: what Firebase would refuse never leaves the machine.
	email := strings.TrimSpace(opts.Email)
	if email == "" || !strings.Contains(email, "@") || strings.ContainsFunc(email, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return cmdutil.Usagef("%q is not an email address", printable.Line(opts.Email))
	}
	var claims []byte
	switch opts.Action {
	case Set:
		c, err := authadmin.CheckClaims(opts.Claims)
		if err != nil {
			return &cmdutil.UsageError{Msg: printable.Line(err.Error()) + "; nothing was sent"}
		}
		claims = c
	case Clear:
		claims = []byte("{}")
	case Get:
	default:
		return fmt.Errorf("unknown claims action %q", opts.Action)
	}
	if opts.Project != "" {
		if err := authadmin.CheckProject(opts.Project); err != nil {
			return &cmdutil.UsageError{Msg: "--project: " + printable.Line(err.Error())}
		}
	}

	emu := opts.EmulatorHost()
	admin, err := opts.Admin(emu)
	if err != nil {
		return err
	}
	project := opts.Project
	if project == "" && emu == "" {
		if project, err = opts.FirebaseProject(ctx, opts.Stack); err != nil {
			return err
		}
		if err := authadmin.CheckProject(project); err != nil {
			return fmt.Errorf("the stack's firebaseProjectId: %w", err)
		}
	}
	where := "project " + project
	switch {
	case emu != "" && project == "":
		where = "the Auth emulator at " + emu
	case emu != "":
		where += " in the Auth emulator at " + emu
	}

	u, err := admin.LookupEmail(ctx, project, email)
	if err != nil {
		return err
	}
	was := show(u.Claims)
	if opts.Action == Get {
		fmt.Fprintln(opts.IO.Out, was)
		return nil
	}
	if err := admin.SetClaims(ctx, project, u.UID, claims); err != nil {
		return err
	}
	who := printable.Line(u.Email)
	done := "set the custom claims of " + who + " to " + show(claims)
	if opts.Action == Clear {
		done = "cleared the custom claims of " + who
	}
	roles := "no roles"
	switch r := authadmin.Roles(claims); {
	case len(r) == 1:
		roles = "the role " + printable.Line(r[0])
	case len(r) > 1:
		roles = "the roles " + printable.Line(strings.Join(r, ", "))
	}
	fmt.Fprintf(opts.IO.Out, "%s (%s, uid %s; were %s)\n", done, where, printable.Line(u.UID), was)
	fmt.Fprintf(opts.IO.Out, "%s now holds %s. Their ID token shows it when it is next refreshed: within the hour, or at once with `gatehouse token --refresh` (or by signing in again).\n", who, roles)
	return nil
}

// show is claims (a JSON object) as one line of JSON that is safe on a
// terminal: compact, keys sorted, HTML characters as they are, and every
// control character a \u escape (the encoder escapes those below 0x20; DEL
// and the C1 controls, such as CSI U+009B, too), so it stays valid JSON.
func show(claims []byte) string {
	var obj map[string]json.RawMessage
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if json.Unmarshal(claims, &obj) != nil || obj == nil || enc.Encode(obj) != nil {
		return printable.Line(string(claims))
	}
	var out strings.Builder
	for _, r := range strings.TrimSuffix(b.String(), "\n") {
		if unicode.IsControl(r) {
			fmt.Fprintf(&out, `\u%04x`, r)
			continue
		}
		out.WriteRune(r)
	}
	return out.String()
}
