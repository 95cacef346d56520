package main

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/gatehouse/gatehouse/stack"
)

// Namespace is this program's config namespace (its Pulumi.yaml name).
const Namespace = "gatehouse-bootstrap"

// Defaults, mirrored by Pulumi.yaml (a test keeps them equal).
const (
	DefaultDeployEnvironment = "production"
	DefaultDeployBranch      = "main"
	DefaultPoolID            = "github-actions"
	DefaultServiceName       = stack.DefaultServiceName
	DefaultManageFirebase    = true
	DefaultAdoptAccounts     = false
	DefaultInitializeAuth    = true
)

// Config is the bootstrap's whole configuration.
type Config struct {
	Project, Region   string
	Repository        string // OWNER/REPO
	RepositoryID      string // numeric, required
	DeployEnvironment string
	DeployBranch      string // the branch the deploy job must run on (refs/heads/DeployBranch)
	PoolID            string
	ServiceName       string
	ManageFirebase    bool
	InitializeAuth    bool
	AdoptAccounts     bool
	Backends          []string // the main stack's backends besides /v1 (stack.OriginalBackend)
	StateBucket       string   // empty: no bucket
	StateLocation     string
	stack.GoogleAuth  // credentials for the program's Google provider
}

var (
	// GitHub: owner 1-39 alphanumerics or hyphens; repository names
	// alphanumerics, '.', '_' and '-'.
	repositoryRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$`)
	digitsRe     = regexp.MustCompile(`^[0-9]{1,20}$`)
	// Environment names end up in a mapped attribute ENV:REF and an IAM
	// principal set: no ':', '/' or quotes.
	environmentRe = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,255}$`)
	// Branch names as git allows them, without the forms git refuses
	// (git check-ref-format): no "..", no ':' and no leading '-' or '/'.
	branchRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_./-]{0,199}$`)
	// Workload Identity pool ids: 4-32 lowercase letters, digits, hyphens;
	// "gcp-" is reserved.
	poolRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{2,30}[a-z0-9]$`)
	// Bucket names: 3-63 lowercase letters, digits, '-', '_' and '.'.
	bucketRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$`)
)

// Source is where values come from: pulumi config, or a map in tests.
type Source = stack.Source

// Load reads and validates the configuration; errors name the key.
func Load(gcp, own Source) (Config, error) {
	f := stack.NewFields(own, Namespace)
	bad, str, boolean := f.Bad, f.Str, f.Bool

	c := Config{
		Project:           strings.TrimSpace(gcp.Get("project")),
		Region:            strings.TrimSpace(gcp.Get("region")),
		GoogleAuth:        stack.ReadGoogleAuth(gcp),
		Repository:        str("githubRepository", ""),
		RepositoryID:      str("githubRepositoryId", ""),
		DeployEnvironment: str("deployEnvironment", DefaultDeployEnvironment),
		DeployBranch:      str("deployBranch", DefaultDeployBranch),
		PoolID:            str("workloadIdentityPoolId", DefaultPoolID),
		ServiceName:       str("serviceName", DefaultServiceName),
		ManageFirebase:    boolean("manageFirebase", DefaultManageFirebase),
		AdoptAccounts:     boolean("adoptServiceAccounts", DefaultAdoptAccounts),
		StateBucket:       str("stateBucket", ""),
		StateLocation:     str("stateBucketLocation", ""),
	}
	if !stack.ValidProjectID(c.Project) {
		bad("gcp:project", "%q is not a project id: pulumi config set gcp:project <your-project-id>", c.Project)
	}
	switch {
	case c.Repository == "":
		bad(Namespace+":githubRepository", "is required: the repository whose workflows deploy, as OWNER/REPO")
	case !repositoryRe.MatchString(c.Repository):
		bad(Namespace+":githubRepository", "%q is not OWNER/REPO", c.Repository)
	}
	// The id pins the repository itself: a repository renamed, or deleted
	// and re-created under the same name by someone else, keeps or gets
	// another id (ids are never reused).
	switch {
	case c.RepositoryID == "":
		bad(Namespace+":githubRepositoryId", "is required: the repository's numeric id, which the identity provider pins besides its name (gh api repos/OWNER/REPO --jq .id)")
	case !digitsRe.MatchString(c.RepositoryID):
		bad(Namespace+":githubRepositoryId", "%q is not a numeric repository id (gh api repos/OWNER/REPO --jq .id)", c.RepositoryID)
	}
	if !branchRe.MatchString(c.DeployBranch) || strings.Contains(c.DeployBranch, "..") || strings.HasSuffix(c.DeployBranch, "/") ||
		strings.HasSuffix(c.DeployBranch, ".lock") {
		bad(Namespace+":deployBranch", "%q is not a branch name (such as main)", c.DeployBranch)
	}
	if !environmentRe.MatchString(c.DeployEnvironment) {
		bad(Namespace+":deployEnvironment", "%q is not a GitHub environment name (letters, digits, '_', '-', '.')", c.DeployEnvironment)
	}
	if !poolRe.MatchString(c.PoolID) || strings.HasPrefix(c.PoolID, "gcp-") {
		bad(Namespace+":workloadIdentityPoolId", "%q is not a pool id (4-32 lowercase letters, digits, hyphens; not gcp-...)", c.PoolID)
	}
	if !stack.ValidServiceName(c.ServiceName) {
		bad(Namespace+":serviceName", "%q must be the main stack's gatehouse:serviceName (1-22 lowercase letters, digits, hyphens)", c.ServiceName)
	}
	names := stack.Names{Service: c.ServiceName, Project: c.Project}
	backends := f.List("backends")
	problems := names.Check(backends)
	for i, name := range backends {
		if !stack.ValidBackendName(name) || problems[i] != nil {
			bad(Namespace+":backends", "%q must be the name of a backend in the main stack's gatehouse:backends (its account id %s must fit in 30 characters)", name, names.RuntimeAccount(name).ID)
			continue
		}
		c.Backends = append(c.Backends, name)
	}
	// Identity Platform is initialised once per project: a stack deployed
	// before the bootstrap (adoptServiceAccounts) has done it, and a second
	// initializeAuth fails ("Identity Platform has already been enabled"),
	// so adopting never initialises it, whatever initializeAuth says.
	c.InitializeAuth = boolean("initializeAuth", DefaultInitializeAuth) && !c.AdoptAccounts
	if c.InitializeAuth && !c.ManageFirebase {
		bad(Namespace+":initializeAuth", "needs manageFirebase: without it the stack uses another Firebase project")
	}
	if c.StateBucket != "" {
		if !bucketRe.MatchString(c.StateBucket) || strings.Contains(c.StateBucket, "goog") {
			bad(Namespace+":stateBucket", "%q is not a bucket name (3-63 lowercase letters, digits, '-', '_', '.')", c.StateBucket)
		}
		if c.StateLocation == "" {
			c.StateLocation = c.Region
		}
		if c.StateLocation == "" {
			bad(Namespace+":stateBucketLocation", "is required with stateBucket when gcp:region is not set")
		}
	}
	if err := f.Err(); err != nil {
		return Config{}, fmt.Errorf("invalid bootstrap configuration:\n%w", err)
	}
	return c, nil
}
