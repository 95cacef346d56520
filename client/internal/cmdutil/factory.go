// Package cmdutil holds what the gatehouse commands share, as GitHub's gh
// lays it out: a Factory of their dependencies (terminal, credential store,
// Firebase Auth client, target resolution, session custody), the process
// environment, and the errors that carry an exit code.
package cmdutil

import (
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/client/internal/authadmin"
	"github.com/gatehouse/gatehouse/client/internal/creds"
	"github.com/gatehouse/gatehouse/client/internal/firebase"
	"github.com/gatehouse/gatehouse/client/internal/googleauth"
	"github.com/gatehouse/gatehouse/client/internal/session"
	"github.com/gatehouse/gatehouse/client/internal/target"
)

// CredentialsVar overrides the credentials file's path.
const CredentialsVar = "GATEHOUSE_CREDENTIALS"

// Factory provides a command's dependencies. Commands copy what they use
// into their options when they are built, and call the functions only when
// they run, so that building the command tree (for --help) needs nothing.
type Factory struct {
	IO     *IO
	Getenv func(string) string
	Now    func() time.Time

	// Store is the credentials file: $GATEHOUSE_CREDENTIALS, else the user
	// config dir's gatehouse/credentials.json.
	Store func() (*creds.Store, error)
	// Firebase is a Firebase Auth client for apiKey, for the emulator at
	// emulatorHost when it is set. A host the custody rules refuse
	// (session.CheckEmulatorHost) is an error: nothing is sent there.
	Firebase func(apiKey, emulatorHost string) (*firebase.Client, error)
	// Sessions applies the custody rules to the stored sessions.
	Sessions func() (*session.Manager, error)
	// Resolver says where calls go.
	Resolver *target.Resolver
	// HTTPClient sends requests that carry an ID token (session.Client).
	HTTPClient func() *http.Client
	// AuthAdmin is the Firebase Auth admin client of the operator: the
	// Auth emulator's at emulatorHost when it is set (refused unless on
	// this machine, session.CheckEmulatorHost; the emulator takes its own
	// admin token), else Google's Identity Toolkit API with the operator's
	// Google credentials (googleauth), which go nowhere else.
	AuthAdmin func(emulatorHost string) (*authadmin.Client, error)
}

// EmulatorHost is FIREBASE_AUTH_EMULATOR_HOST.
func (f *Factory) EmulatorHost() string { return f.Getenv(session.EmulatorVar) }

// New builds the real Factory over env.
func New(env Env) *Factory {
	f := &Factory{IO: NewIO(env), Getenv: env.Getenv, Now: env.Now,
		Resolver: &target.Resolver{Getenv: env.Getenv, Environ: env.Environ, LookPath: env.LookPath}}
	f.Store = func() (*creds.Store, error) {
		if p := env.Getenv(CredentialsVar); p != "" {
			return &creds.Store{Path: p}, nil
		}
		p, err := creds.DefaultPath()
		if err != nil {
			return nil, err
		}
		return &creds.Store{Path: p}, nil
	}
	f.Firebase = func(apiKey, emulatorHost string) (*firebase.Client, error) {
		if err := session.CheckEmulatorHost(emulatorHost); err != nil {
			return nil, err
		}
		return firebase.New(apiKey, emulatorHost), nil
	}
	f.Sessions = func() (*session.Manager, error) {
		store, err := f.Store()
		if err != nil {
			return nil, err
		}
		return &session.Manager{Store: store, EmulatorHost: f.EmulatorHost(), Now: f.Now,
			Firebase: func(apiKey, host string) (session.Refresher, error) { return f.Firebase(apiKey, host) }}, nil
	}
	f.HTTPClient = func() *http.Client { return session.Client(60 * time.Second) }
	f.AuthAdmin = func(emulatorHost string) (*authadmin.Client, error) {
		hc := session.Client(60 * time.Second) // no redirect is followed with the token
		if emulatorHost != "" {
			if err := session.CheckEmulatorHost(emulatorHost); err != nil {
				return nil, err
			}
			return authadmin.NewEmulator(hc, emulatorHost), nil
		}
		finder := &googleauth.Finder{Getenv: env.Getenv, Environ: env.Environ, LookPath: env.LookPath}
		return authadmin.New(hc, finder.Find), nil
	}
	return f
}
