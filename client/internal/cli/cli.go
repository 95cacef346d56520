// Package cli implements the gatehouse command: sign up, log in and call
// the API through the gateway with a Firebase ID token.
package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/gatehouse/gatehouse/client/internal/creds"
	"github.com/gatehouse/gatehouse/client/internal/firebase"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the command failed, or the API answered non-2xx
	exitUsage = 2
)

// refreshMargin: a token this close to expiry is refreshed before use.
const refreshMargin = time.Minute

// Env is what the CLI takes from its process.
type Env struct {
	Args           []string
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	Environ        func() []string
	LookPath       func(string) (string, error)
	// IsTerminal reports whether stdin is a terminal; ReadPassword reads a
	// line from it without echo.
	IsTerminal   func() bool
	ReadPassword func() ([]byte, error)
	Now          func() time.Time
}

// OSEnv is the real process environment.
func OSEnv() Env {
	fd := int(os.Stdin.Fd())
	return Env{
		Args: os.Args[1:], Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		Getenv: os.Getenv, Environ: os.Environ, LookPath: exec.LookPath,
		IsTerminal:   func() bool { return term.IsTerminal(fd) },
		ReadPassword: func() ([]byte, error) { return term.ReadPassword(fd) },
		Now:          time.Now,
	}
}

type app struct {
	Env
	stdin *bufio.Reader
	store creds.Store
}

// usageError is bad input: a one-line message and exit 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// exitCodeError carries a specific exit code with a message.
type exitCodeError struct {
	code int
	msg  string
}

func (e exitCodeError) Error() string { return e.msg }

// version is set at build time (-ldflags "-X .../cli.version=v1.2.3");
// otherwise the module version go install recorded, or the VCS revision.
var version = ""

func versionString() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", ""
	for _, s := range info.Settings {
		switch {
		case s.Key == "vcs.revision" && len(s.Value) >= 12:
			rev = s.Value[:12]
		case s.Key == "vcs.modified" && s.Value == "true":
			dirty = "-dirty"
		}
	}
	if rev != "" {
		return "devel-" + rev + dirty
	}
	return "devel"
}

// Main runs the CLI and returns the exit code.
func Main(env Env) int {
	path, err := creds.DefaultPath()
	if env.Getenv("GATEHOUSE_CREDENTIALS") != "" {
		path, err = env.Getenv("GATEHOUSE_CREDENTIALS"), nil
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "gatehouse: %v\n", err)
		return exitError
	}
	a := &app{Env: env, stdin: bufio.NewReader(env.Stdin), store: creds.Store{Path: path}}
	return a.main(context.Background(), env.Args)
}

// root builds the command tree (cobra, as pulumi and gh use): each command
// has only the flags it reads; `help CMD`, `CMD --help` and --version work.
func (a *app) root() *cobra.Command {
	root := &cobra.Command{
		Use:           "gatehouse",
		Short:         "gatehouse - sign up, log in and call your gatehouse API.",
		Long:          "gatehouse - sign up, log in and call your gatehouse API.\n\n" + resolutionHelp + "\n\n" + credentialsHelp,
		Version:       versionString(),
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				fmt.Fprint(a.Stderr, cmd.UsageString())
				return exitCodeError{exitUsage, ""}
			}
			return usageError{fmt.Sprintf("unknown command %q", args[0])}
		},
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	root.SetVersionTemplate("gatehouse {{.Version}}\n")
	auth := func(name, short string) *cobra.Command {
		var f authFlags
		c := &cobra.Command{
			Use: name, Short: short, Long: short + ".\n\n" + signInHelp, Args: noArgs,
			RunE: func(cmd *cobra.Command, _ []string) error { return a.authenticate(cmd.Context(), name, f) },
		}
		c.Flags().StringVar(&f.email, "email", "", "account email (prompted for when omitted)")
		c.Flags().BoolVar(&f.passwordStdin, "password-stdin", false, "read the password from the first line of stdin")
		f.target = addTargetFlags(c.Flags(), false)
		return c
	}
	profileCmd := func(name, short string, run func(ctx context.Context, profile string) error) *cobra.Command {
		var p profileFlags
		c := &cobra.Command{
			Use: name, Short: short, Long: short + ".\n\n" + profileHelp, Args: noArgs,
			RunE: func(cmd *cobra.Command, _ []string) error { return run(cmd.Context(), a.profile(p)) },
		}
		p.add(c.Flags())
		return c
	}
	var cf callFlags
	call := &cobra.Command{
		Use:   "call [METHOD] PATH",
		Short: "call the API through the gateway with your token",
		Long: "Call the API through the gateway with your token (METHOD defaults to GET).\n" +
			"A non-2xx answer exits 1.\n\n" + resolutionHelp,
		Example: "  gatehouse call /v1/hello\n  gatehouse call POST /v1/echo -d '{\"message\":\"hi\"}'",
		RunE:    func(cmd *cobra.Command, args []string) error { return a.call(cmd.Context(), args, cf) },
	}
	call.Flags().StringVarP(&cf.data, "data", "d", "", "request body (JSON); @FILE reads it from a file")
	call.Flags().BoolVarP(&cf.verbose, "verbose", "v", false, "show the request and response status and headers (Authorization and cookies redacted)")
	cf.target = addTargetFlags(call.Flags(), true)

	root.AddCommand(
		auth("signup", "create an account (email + password) and log in"),
		auth("login", "log in with email and password"),
		profileCmd("logout", "forget the stored credentials (always works, even on a corrupt file)", a.logout),
		profileCmd("token", "print a valid ID token (refreshed when needed), for curl -H \"Authorization: Bearer $(gatehouse token)\"", a.token),
		call,
		profileCmd("whoami", "show the stored identity (nothing is contacted)", a.whoami),
	)
	// help CMD is CMD --help; help with an unknown name is a usage error.
	root.SetHelpCommand(&cobra.Command{
		Use:   "help [COMMAND]",
		Short: "help about any command",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			target, rest, err := root.Find(args)
			if err != nil || len(rest) > 0 {
				return usagef("unknown command %q", strings.Join(args, " "))
			}
			target.InitDefaultHelpFlag()
			return target.Help()
		},
	})
	// Flag errors are usage errors, as is a flag that swallowed the next
	// flag as its value (call /v1/hello -d --gateway-url URL).
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err.Error()} })
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error { return missingValues(cmd.Flags()) }
	return root
}

// missingValues finds a flag whose value is another flag: pflag takes the
// next argument as the value of a flag that needs one, so "-d --stack x"
// would send the body "--stack".
func missingValues(fs *pflag.FlagSet) error {
	var err error
	fs.Visit(func(f *pflag.Flag) {
		if err != nil || f.Value.Type() == "bool" {
			return
		}
		v := f.Value.String()
		name, _, _ := strings.Cut(strings.TrimLeft(v, "-"), "=")
		if !strings.HasPrefix(v, "-") || name == "" {
			return
		}
		if fs.Lookup(name) != nil || (len(name) == 1 && fs.ShorthandLookup(name) != nil) || v == "--" {
			err = usageError{fmt.Sprintf("flag needs an argument: --%s (got the flag %s instead)", f.Name, v)}
		}
	})
	return err
}

func noArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("unexpected argument %q", args[0])
	}
	return nil
}

func (a *app) main(ctx context.Context, args []string) int {
	root := a.root()
	root.SetArgs(args)
	root.SetIn(a.Stdin)
	root.SetOut(a.Stdout)
	root.SetErr(a.Stderr)
	cmd, err := root.ExecuteContextC(ctx)
	name := "gatehouse"
	if cmd != nil && cmd != root {
		name += " " + cmd.Name()
	}
	var ue usageError
	var ce exitCodeError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(a.Stderr, "%s: %s (see %s --help)\n", name, oneLine(ue.msg), name)
		return exitUsage
	case errors.As(err, &ce):
		if ce.msg != "" {
			fmt.Fprintf(a.Stderr, "%s: %s\n", name, oneLine(ce.msg))
		}
		return ce.code
	default:
		fmt.Fprintf(a.Stderr, "%s: %s\n", name, oneLine(err.Error()))
		return exitError
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

type authFlags struct {
	email         string
	passwordStdin bool
	target        *targetFlags
}

func (a *app) authenticate(ctx context.Context, name string, f authFlags) error {
	email := f.email
	if email == "" {
		if f.passwordStdin || !a.IsTerminal() {
			return usagef("--email is required when stdin is not a terminal")
		}
		fmt.Fprint(a.Stderr, "Email: ")
		line, err := a.stdin.ReadString('\n')
		if err != nil && line == "" {
			return usagef("no email given")
		}
		email = strings.TrimSpace(line)
	}
	if !strings.Contains(email, "@") {
		return usagef("%q is not an email address", email)
	}
	password, err := a.password(f.passwordStdin, name == "signup")
	if err != nil {
		return err
	}
	t, err := a.resolve(ctx, f.target, false, true)
	if err != nil {
		return err
	}
	emu := a.Getenv("FIREBASE_AUTH_EMULATOR_HOST")
	if err := checkEmulatorHost(emu); err != nil {
		return err
	}
	fb := firebase.New(t.apiKey, emu)
	var s *firebase.Session
	if name == "signup" {
		s, err = fb.SignUp(ctx, email, password)
	} else {
		s, err = fb.SignIn(ctx, email, password)
	}
	if err != nil {
		var fe *firebase.Error
		if name == "login" && emu != "" && errors.As(err, &fe) && (fe.Code == "EMAIL_NOT_FOUND" || fe.Code == "INVALID_PASSWORD" || fe.Code == "INVALID_LOGIN_CREDENTIALS") {
			return fmt.Errorf("wrong email or password, or no such account in the emulator at %s (its accounts are gone if it was started without its data): `gatehouse signup` creates one", emu)
		}
		return err
	}
	if err := a.store.Put(t.profile, &creds.Entry{Session: *s, APIKey: t.apiKey, Emulator: emu, Gateway: t.gatewayURL}); err != nil {
		return err
	}
	verb := "logged in"
	if name == "signup" {
		verb = "signed up and logged in"
	}
	fmt.Fprintf(a.Stdout, "%s as %s (uid %s, profile %s); token valid until %s\n", verb, s.Email, s.UID, t.profile, s.Expiry.Local().Format(time.Kitchen))
	return nil
}

// password reads the password from stdin's first line or a no-echo prompt.
// It is never taken from a flag, so it stays out of shell history and ps.
func (a *app) password(fromStdin, confirm bool) (string, error) {
	if fromStdin {
		line, err := a.stdin.ReadString('\n')
		if err != nil && err != io.EOF {
			return "", fmt.Errorf("read password from stdin: %w", err)
		}
		pw := strings.TrimRight(line, "\r\n")
		if pw == "" {
			return "", usagef("--password-stdin: stdin is empty")
		}
		return pw, nil
	}
	if !a.IsTerminal() {
		return "", usagef("no terminal to ask for the password: pipe it with --password-stdin")
	}
	fmt.Fprint(a.Stderr, "Password: ")
	pw, err := a.ReadPassword()
	fmt.Fprintln(a.Stderr)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	if confirm {
		fmt.Fprint(a.Stderr, "Repeat password: ")
		again, err := a.ReadPassword()
		fmt.Fprintln(a.Stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if string(again) != string(pw) {
			return "", usagef("the passwords do not match")
		}
	}
	if len(pw) == 0 {
		return "", usagef("empty password")
	}
	return string(pw), nil
}

func (a *app) logout(_ context.Context, profile string) error {
	had, err := a.store.Delete(profile)
	if errors.Is(err, creds.ErrCorrupt) {
		// Logging out must always work: a file that cannot be read holds no
		// usable session, so it is moved aside (kept for inspection).
		moved, err := a.store.SetAside()
		if err != nil {
			return err
		}
		fmt.Fprintf(a.Stdout, "logged out of every profile: the credentials file was corrupt and is moved to %s\n", moved)
		return nil
	}
	if err != nil {
		return err
	}
	if !had {
		fmt.Fprintf(a.Stdout, "not logged in (profile %s)\n", profile)
		return nil
	}
	fmt.Fprintf(a.Stdout, "logged out (profile %s)\n", profile)
	return nil
}

func (a *app) whoami(_ context.Context, profile string) error {
	e, err := a.entry(profile)
	if err != nil {
		return err
	}
	state := "expires " + e.Expiry.Local().Format(time.RFC3339)
	if left := e.Expiry.Sub(a.Now()); left <= 0 {
		state = "expired " + e.Expiry.Local().Format(time.RFC3339) + " (refreshed on next use)"
	} else {
		state += fmt.Sprintf(" (in %s)", left.Round(time.Minute))
	}
	fmt.Fprintf(a.Stdout, "email:   %s\nuid:     %s\nproject: %s\nprofile: %s\ntoken:   %s\n", e.Email, e.UID, e.ProjectID, profile, state)
	return nil
}

func (a *app) entry(profile string) (*creds.Entry, error) {
	e, err := a.store.Get(profile)
	if errors.Is(err, creds.ErrNotLoggedIn) {
		return nil, fmt.Errorf("not logged in (profile %s): run `gatehouse login` or `gatehouse signup`", profile)
	}
	return e, err
}

// fresh returns a token valid for at least refreshMargin, refreshing and
// storing it when needed (or always, with force). A session is refreshed
// only where it was issued: its refresh token never goes to another
// Firebase Auth (a production one to an emulator, or the reverse).
func (a *app) fresh(ctx context.Context, profile string, force bool) (*creds.Entry, error) {
	e, err := a.entry(profile)
	if err != nil {
		return nil, err
	}
	if err := a.sameIssuer(profile, e); err != nil {
		return nil, err
	}
	if !force && e.Expiry.Sub(a.Now()) > refreshMargin {
		return e, nil
	}
	s, err := firebase.New(e.APIKey, e.Emulator).Refresh(ctx, &e.Session)
	var fe *firebase.Error
	if err != nil && e.Emulator != "" && errors.As(err, &fe) && (fe.Code == "USER_NOT_FOUND" || fe.Code == "INVALID_REFRESH_TOKEN") {
		return nil, fmt.Errorf("the emulator at %s no longer knows %s (profile %s; it was restarted without its data?): run `gatehouse signup --email %s`", e.Emulator, e.Email, profile, e.Email)
	}
	if err != nil {
		return nil, err
	}
	updated := *e
	updated.Session = *s
	// Written back only if nobody logged out or in meanwhile.
	ok, err := a.store.Replace(profile, e, &updated)
	if err != nil {
		return nil, err
	}
	if !ok {
		cur, err := a.store.Get(profile)
		if errors.Is(err, creds.ErrNotLoggedIn) {
			return nil, fmt.Errorf("logged out of profile %s while its token was being refreshed", profile)
		}
		return cur, err
	}
	return &updated, nil
}

// sameIssuer refuses a session whose issuer differs from the environment's:
// FIREBASE_AUTH_EMULATOR_HOST set for a production session, unset (or
// another host) for an emulator session.
func (a *app) sameIssuer(profile string, e *creds.Entry) error {
	env := a.Getenv("FIREBASE_AUTH_EMULATOR_HOST")
	switch {
	case env == e.Emulator:
		return checkEmulatorHost(env)
	case e.Emulator == "":
		return fmt.Errorf("profile %s holds a session of production Firebase Auth, but FIREBASE_AUTH_EMULATOR_HOST is set (%s): unset it to use this session (its tokens never go to an emulator), or use the emulator's profile (--profile local)", profile, env)
	case env == "":
		return fmt.Errorf("profile %s holds a session of the Firebase Auth emulator at %s, but FIREBASE_AUTH_EMULATOR_HOST is not set: export FIREBASE_AUTH_EMULATOR_HOST=%s to use it", profile, e.Emulator, e.Emulator)
	default:
		return fmt.Errorf("profile %s holds a session of the Firebase Auth emulator at %s, but FIREBASE_AUTH_EMULATOR_HOST is %s: log in again against that emulator", profile, e.Emulator, env)
	}
}

// checkEmulatorHost allows only loopback emulators: the emulator speaks
// plain HTTP, and what is sent there includes passwords and refresh tokens.
func checkEmulatorHost(hostport string) error {
	if hostport == "" {
		return nil
	}
	host := hostport
	if h, _, err := net.SplitHostPort(strings.TrimPrefix(hostport, "http://")); err == nil {
		host = h
	}
	if !isLoopback(host) {
		return fmt.Errorf("FIREBASE_AUTH_EMULATOR_HOST=%s is not on this machine: the emulator speaks plain HTTP, so gatehouse only talks to one on a loopback address (127.0.0.1:9099)", hostport)
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (a *app) token(ctx context.Context, profile string) error {
	e, err := a.fresh(ctx, profile, false)
	if err != nil {
		return err
	}
	fmt.Fprintln(a.Stdout, e.IDToken)
	return nil
}

var methods = map[string]bool{"GET": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "HEAD": true, "OPTIONS": true}

type callFlags struct {
	data    string
	verbose bool
	target  *targetFlags
}

func (a *app) call(ctx context.Context, args []string, f callFlags) error {
	method, path := http.MethodGet, ""
	switch len(args) {
	case 1:
		path = args[0]
	case 2:
		method, path = strings.ToUpper(args[0]), args[1]
		if !methods[method] {
			return usagef("unknown method %q", args[0])
		}
	default:
		return usagef("want [METHOD] PATH, e.g. gatehouse call /v1/hello")
	}
	if !strings.HasPrefix(path, "/") {
		return usagef("PATH must start with /, got %q", path)
	}
	var body []byte
	if strings.HasPrefix(f.data, "@") {
		b, err := os.ReadFile(f.data[1:])
		if err != nil {
			return usagef("-d: %v", err)
		}
		body = b
	} else if f.data != "" {
		body = []byte(f.data)
	}
	t, err := a.resolve(ctx, f.target, true, false)
	if err != nil {
		return err
	}
	e, err := a.fresh(ctx, t.profile, false)
	if err != nil {
		return err
	}
	if err := a.boundTo(t, e); err != nil {
		return err
	}
	res, err := a.send(ctx, method, t.gatewayURL+path, body, e.IDToken, f.verbose)
	if err != nil {
		return err
	}
	if res.StatusCode == http.StatusUnauthorized && strings.Contains(strings.ToLower(string(res.body)), "expired") {
		// The gateway says the token expired (clock skew, or it expired in
		// flight): refresh once and retry.
		if e, err = a.fresh(ctx, t.profile, true); err != nil {
			return err
		}
		if res, err = a.send(ctx, method, t.gatewayURL+path, body, e.IDToken, f.verbose); err != nil {
			return err
		}
	}
	if _, err := a.Stdout.Write(res.body); err != nil {
		return err
	}
	if len(res.body) > 0 && res.body[len(res.body)-1] != '\n' {
		fmt.Fprintln(a.Stdout)
	}
	if res.StatusCode/100 != 2 {
		return exitCodeError{exitError, fmt.Sprintf("%s %s answered %s", method, path, res.Status)}
	}
	return nil
}

// boundTo makes sure the session's token goes only to the gateway it is
// for: the one known at login, or else the first one it is used with (then
// recorded). Another checkout's stack outputs or a stray
// GATEHOUSE_GATEWAY_URL never receive it.
func (a *app) boundTo(t target, e *creds.Entry) error {
	if e.Gateway == "" {
		bound := *e
		bound.Gateway = t.gatewayURL
		_, err := a.store.Replace(t.profile, e, &bound)
		return err
	}
	if e.Gateway != t.gatewayURL {
		return fmt.Errorf("the session of profile %s is for the gateway %s, not %s: its token is not sent there; log in with another --profile for that gateway", t.profile, e.Gateway, t.gatewayURL)
	}
	return nil
}

type response struct {
	*http.Response
	body []byte
}

func (a *app) send(ctx context.Context, method, url string, body []byte, token string, verbose bool) (*response, error) {
	var r io.Reader
	if body != nil {
		r = strings.NewReader(string(body))
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return nil, usagef("bad URL %q: %v", url, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("User-Agent", "gatehouse-cli")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if verbose {
		fmt.Fprintf(a.Stderr, "> %s %s\n", method, url)
		writeHeaders(a.Stderr, "> ", req.Header)
	}
	// Redirects are not followed: Go's client would carry Authorization to
	// the same host on another scheme or port (https://h:A to http://h:B).
	client := &http.Client{Timeout: 60 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the gateway at %s: %v", url, errors.Unwrap(err))
	}
	defer res.Body.Close()
	if res.StatusCode/100 == 3 {
		if verbose {
			fmt.Fprintf(a.Stderr, "< %s %s\n", res.Proto, res.Status)
		}
		return nil, fmt.Errorf("the gateway answered %s with a redirect to %q: not followed with your token", res.Status, res.Header.Get("Location"))
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, 32<<20))
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	if verbose {
		fmt.Fprintf(a.Stderr, "< %s %s\n", res.Proto, res.Status)
		writeHeaders(a.Stderr, "< ", res.Header)
	}
	return &response{res, b}, nil
}

var redacted = map[string]bool{"Authorization": true, "X-Forwarded-Authorization": true, "Proxy-Authorization": true, "Cookie": true, "Set-Cookie": true}

func writeHeaders(w io.Writer, prefix string, h http.Header) {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			switch ck := http.CanonicalHeaderKey(k); {
			case ck == "Cookie" || ck == "Set-Cookie":
				v = "REDACTED" // names and values alike: a cookie's name can say what it holds
			case redacted[ck]:
				scheme, _, _ := strings.Cut(v, " ")
				v = scheme + " REDACTED"
			}
			fmt.Fprintf(w, "%s%s: %s\n", prefix, k, v)
		}
	}
}
