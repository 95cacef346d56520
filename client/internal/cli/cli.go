// Package cli implements the gatehouse command: sign up, log in and call
// the API through the gateway with a Firebase ID token.
package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"

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

type command struct {
	name, args, summary string
	run                 func(a *app, ctx context.Context, args []string) error
}

func commands() []command {
	return []command{
		{"signup", "[--email EMAIL] [--password-stdin]", "create an account (email + password) and log in", (*app).signup},
		{"login", "[--email EMAIL] [--password-stdin]", "log in with email and password", (*app).login},
		{"logout", "", "forget the stored credentials", (*app).logout},
		{"token", "", "print a valid ID token (refreshed when needed), for curl -H \"Authorization: Bearer $(gatehouse token)\"", (*app).token},
		{"call", "[METHOD] PATH [-d BODY] [-v]", "call the API through the gateway with your token", (*app).call},
		{"whoami", "", "show the stored identity (nothing is contacted)", (*app).whoami},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "gatehouse - sign up, log in and call your gatehouse API.")
	fmt.Fprintln(w, "\nUsage: gatehouse COMMAND [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun \"gatehouse COMMAND --help\" for a command's flags.")
	fmt.Fprintln(w, "\n"+resolutionHelp)
	fmt.Fprintln(w, "\nCredentials are kept in the user config dir (gatehouse/credentials.json, mode 0600), one profile per stack.")
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

func (a *app) main(ctx context.Context, args []string) int {
	if len(args) == 0 {
		usage(a.Stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "--help", "help":
		usage(a.Stdout)
		return exitOK
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(a, ctx, args[1:])
		var ue usageError
		var ce exitCodeError
		switch {
		case err == nil:
			return exitOK
		case errors.Is(err, flag.ErrHelp):
			return exitOK
		case errors.As(err, &ue):
			fmt.Fprintf(a.Stderr, "gatehouse %s: %s (see gatehouse %s --help)\n", c.name, oneLine(ue.msg), c.name)
			return exitUsage
		case errors.As(err, &ce):
			if ce.msg != "" {
				fmt.Fprintf(a.Stderr, "gatehouse %s: %s\n", c.name, oneLine(ce.msg))
			}
			return ce.code
		default:
			fmt.Fprintf(a.Stderr, "gatehouse %s: %s\n", c.name, oneLine(err.Error()))
			return exitError
		}
	}
	fmt.Fprintf(a.Stderr, "gatehouse: unknown command %q (see gatehouse --help)\n", args[0])
	return exitUsage
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// flags makes a command's flag set; help goes to stdout.
func (a *app) flags(c string) *flag.FlagSet {
	fs := flag.NewFlagSet(c, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parse parses args, printing help on -h.
func (a *app) parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			for _, c := range commands() {
				if c.name == fs.Name() {
					fmt.Fprintf(a.Stdout, "Usage: gatehouse %s %s\n\n%s.\n\nFlags:\n", c.name, c.args, c.summary)
				}
			}
			fs.SetOutput(a.Stdout)
			fs.PrintDefaults()
			fmt.Fprintln(a.Stdout, "\n"+resolutionHelp)
			return err
		}
		return usageError{err.Error()}
	}
	return nil
}

func (a *app) signup(ctx context.Context, args []string) error {
	return a.authenticate(ctx, "signup", args)
}
func (a *app) login(ctx context.Context, args []string) error {
	return a.authenticate(ctx, "login", args)
}

func (a *app) authenticate(ctx context.Context, name string, args []string) error {
	fs := a.flags(name)
	email := fs.String("email", "", "account email (prompted for when omitted)")
	pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of stdin")
	tf := addTargetFlags(fs)
	if err := a.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if *email == "" {
		if *pwStdin || !a.IsTerminal() {
			return usagef("--email is required when stdin is not a terminal")
		}
		fmt.Fprint(a.Stderr, "Email: ")
		line, err := a.stdin.ReadString('\n')
		if err != nil && line == "" {
			return usagef("no email given")
		}
		*email = strings.TrimSpace(line)
	}
	if !strings.Contains(*email, "@") {
		return usagef("%q is not an email address", *email)
	}
	password, err := a.password(*pwStdin, name == "signup")
	if err != nil {
		return err
	}
	t, err := a.resolve(ctx, tf, false, true)
	if err != nil {
		return err
	}
	fb := firebase.New(t.apiKey, a.Getenv("FIREBASE_AUTH_EMULATOR_HOST"))
	var s *firebase.Session
	if name == "signup" {
		s, err = fb.SignUp(ctx, *email, password)
	} else {
		s, err = fb.SignIn(ctx, *email, password)
	}
	if err != nil {
		return err
	}
	if err := a.store.Put(t.profile, &creds.Entry{Session: *s, APIKey: t.apiKey, Emulator: a.Getenv("FIREBASE_AUTH_EMULATOR_HOST")}); err != nil {
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

func (a *app) profileOnly(name string, args []string) (string, error) {
	fs := a.flags(name)
	tf := addTargetFlags(fs)
	if err := a.parse(fs, args); err != nil {
		return "", err
	}
	if fs.NArg() > 0 {
		return "", usagef("unexpected argument %q", fs.Arg(0))
	}
	return firstNonEmpty(*tf.profile, a.Getenv("GATEHOUSE_PROFILE"), *tf.stack, "default"), nil
}

func (a *app) logout(_ context.Context, args []string) error {
	profile, err := a.profileOnly("logout", args)
	if err != nil {
		return err
	}
	had, err := a.store.Delete(profile)
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

func (a *app) whoami(_ context.Context, args []string) error {
	profile, err := a.profileOnly("whoami", args)
	if err != nil {
		return err
	}
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
// storing it when needed (or always, with force).
func (a *app) fresh(ctx context.Context, profile string, force bool) (*creds.Entry, error) {
	e, err := a.entry(profile)
	if err != nil {
		return nil, err
	}
	if !force && e.Expiry.Sub(a.Now()) > refreshMargin {
		return e, nil
	}
	emu := firstNonEmpty(a.Getenv("FIREBASE_AUTH_EMULATOR_HOST"), e.Emulator)
	s, err := firebase.New(e.APIKey, emu).Refresh(ctx, &e.Session)
	if err != nil {
		return nil, err
	}
	e.Session = *s
	if err := a.store.Put(profile, e); err != nil {
		return nil, err
	}
	return e, nil
}

func (a *app) token(ctx context.Context, args []string) error {
	profile, err := a.profileOnly("token", args)
	if err != nil {
		return err
	}
	e, err := a.fresh(ctx, profile, false)
	if err != nil {
		return err
	}
	fmt.Fprintln(a.Stdout, e.IDToken)
	return nil
}

var methods = map[string]bool{"GET": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "HEAD": true, "OPTIONS": true}

func (a *app) call(ctx context.Context, args []string) error {
	fs := a.flags("call")
	data := fs.String("d", "", "request body (JSON); @FILE reads it from a file")
	verbose := fs.Bool("v", false, "show the request and response status and headers (Authorization redacted)")
	tf := addTargetFlags(fs)
	if err := a.parse(fs, interleave(fs, args)); err != nil {
		return err
	}
	method, path := http.MethodGet, ""
	switch fs.NArg() {
	case 1:
		path = fs.Arg(0)
	case 2:
		method, path = strings.ToUpper(fs.Arg(0)), fs.Arg(1)
		if !methods[method] {
			return usagef("unknown method %q", fs.Arg(0))
		}
	default:
		return usagef("want [METHOD] PATH, e.g. gatehouse call /v1/hello")
	}
	if !strings.HasPrefix(path, "/") {
		return usagef("PATH must start with /, got %q", path)
	}
	var body []byte
	if strings.HasPrefix(*data, "@") {
		b, err := os.ReadFile((*data)[1:])
		if err != nil {
			return usagef("-d: %v", err)
		}
		body = b
	} else if *data != "" {
		body = []byte(*data)
	}
	t, err := a.resolve(ctx, tf, true, false)
	if err != nil {
		return err
	}
	e, err := a.fresh(ctx, t.profile, false)
	if err != nil {
		return err
	}
	res, err := a.send(ctx, method, t.gatewayURL+path, body, e.IDToken, *verbose)
	if err != nil {
		return err
	}
	if res.StatusCode == http.StatusUnauthorized && strings.Contains(strings.ToLower(string(res.body)), "expired") {
		// The gateway says the token expired (clock skew, or it expired in
		// flight): refresh once and retry.
		if e, err = a.fresh(ctx, t.profile, true); err != nil {
			return err
		}
		if res, err = a.send(ctx, method, t.gatewayURL+path, body, e.IDToken, *verbose); err != nil {
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

// interleave lets flags follow positional arguments (call /v1/hello -v).
func interleave(fs *flag.FlagSet, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if strings.HasPrefix(arg, "-") && len(arg) > 1 {
			flags = append(flags, arg)
			name := strings.TrimLeft(arg, "-")
			if f := fs.Lookup(name); f != nil && !strings.Contains(arg, "=") {
				if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); !ok || !bf.IsBoolFlag() {
					if i+1 < len(args) {
						flags = append(flags, args[i+1])
						i++
					}
				}
			}
			continue
		}
		pos = append(pos, arg)
	}
	return append(flags, append([]string{"--"}, pos...)...)
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
	client := &http.Client{Timeout: 60 * time.Second}
	res, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the gateway at %s: %v", url, errors.Unwrap(err))
	}
	defer res.Body.Close()
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
			if redacted[http.CanonicalHeaderKey(k)] {
				scheme, _, _ := strings.Cut(v, " ")
				v = scheme + " REDACTED"
			}
			fmt.Fprintf(w, "%s%s: %s\n", prefix, k, v)
		}
	}
}
