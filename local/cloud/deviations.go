package cloud

// Deviation is a way the local cloud knowingly differs from Google Cloud,
// or a behaviour it assumes where no document or recording settles it.
// Everything else it does cites Google's documentation, the provider's
// source, the discovery documents or recorded real traffic, in the code.
// The README's "Deploy to a local Google Cloud" section lists the same
// items; a test keeps the two equal.
type Deviation struct {
	Title, Reason string
}

// Deviations is the one list.
var Deviations = []Deviation{
	{
		Title:  "The cloud stands in for GitHub's OIDC issuer",
		Reason: "POST /_cloud/github/token mints a GitHub Actions job's token with the claims given, signed with the cloud's own key, and Security Token Service (POST /sts/v1/token) trusts that key for the issuer https://token.actions.githubusercontent.com instead of fetching GitHub's keys. The exchange itself follows Google: the provider's issuer and audience, its attribute mapping and condition evaluated as CEL, principal and principal-set identities, OAuth-style errors.",
	},
	{
		Title:  "A mapping that fails on a token fails the exchange (assumed)",
		Reason: "an attribute mapping that cannot be evaluated on a token (it reads a claim the token lacks) refuses the exchange with invalid_grant; Google's documentation does not say, so gatehouse's mapping guards the one optional claim it reads with has().",
	},
	{
		Title:  "Custom roles accept the permissions roles.json knows",
		Reason: "Google refuses a custom role permission that does not exist or is not supported in custom roles; here the catalogue is the permissions of the predefined roles in roles.json. A deleted custom role keeps its id and grants nothing until undeleted, as Google's does for 7 days; it is never purged.",
	},
	{
		Title:  "Projects exist before any call",
		Reason: "projects come from --project or POST /_cloud/projects, owned by one principal; there is no projects.create, billing or organisation.",
	},
	{
		Title:  "cloudresourcemanager is on in a new project (assumed)",
		Reason: "Google's list of services enabled by default names serviceusage, servicemanagement and storage but not Cloud Resource Manager, which the provider calls to read every projects.Service; the twin takes it as on, as it is in projects made with the console or gcloud.",
	},
	{
		Title:  "Roles hold only the permissions that are checked",
		Reason: "roles.json lists, for each role the stacks grant or need, the permissions of Google's role reference that some method here checks; roles/owner holds every permission. A role not in the file grants nothing.",
	},
	{
		Title:  "IAM changes apply at once; conditions grant nothing",
		Reason: "Google's IAM changes (new roles, bindings, pool settings) can take minutes to apply and conditional bindings are evaluated with CEL; here a policy change applies to the next request and a binding with a condition is kept but grants nothing. Only API enablement has a propagation delay (--propagation-delay).",
	},
	{
		Title:  "Long-running operations finish at once",
		Reason: "every operation is done in the answer that starts it (the provider then never polls), or after --operation-delay; real ones take seconds (Cloud Run) to minutes (gateways, API configs).",
	},
	{
		Title:  "Some error wordings are assumed",
		Reason: "where no recording exists, the status and text are the twin's: initializeAuth a second time (400 INVALID_ARGUMENT, \"Identity Platform has already been enabled for this project\", as the provider's issues quote it), deleting an API config a gateway serves or an API with configs (400 FAILED_PRECONDITION), enabling an unknown service (403 with reason SERVICE_CONFIG_NOT_FOUND_OR_PERMISSION_DENIED).",
	},
	{
		Title:  "Firebase and Identity Toolkit shapes come from their discovery documents",
		Reason: "there is no recorded traffic of either; fields and defaults follow the FirebaseProject, WebApp, WebAppConfig and Config schemas at google.golang.org/api v0.191.0.",
	},
	{
		Title:  "API configs are checked with gatehouse's own validator",
		Reason: "spec.Validate rejects what API Gateway rejects and also gatehouse's own rules (every operation routed to a backend and secured); a rejected document is a 400 at create, where Google fails the operation.",
	},
	{
		Title:  "Cloud Run checks the image, not the container",
		Reason: "an image in the local registry must have been pushed (a missing one is a 400 at create, where Google fails the revision); images elsewhere are taken as they are; nothing runs, so a revision is always ready.",
	},
	{
		Title:  "The registry takes Basic auth and serves every location",
		Reason: "Docker logs in with oauth2accesstoken and the access token, as with Artifact Registry, but there is no token exchange; one registry on the cloud's port serves every LOCATION-docker.pkg.dev, selected by the test-only gatehouse:imageRegistry. Blobs and pushed digests survive a restart with --state; manifests do not.",
	},
	{
		Title:  "A re-created API gets a new managed service",
		Reason: "a deleted API's managed service is kept soft-deleted for 30 days, as Service Management documents, and an API created again with the same id gets a managed service of a new name (assumed).",
	},
	{
		Title:  "Validation messages name fields by their JSON names",
		Reason: "Google's \"Invalid value at\" and \"Unknown name\" messages use the proto field path; the twin names the field as the request spells it (template.maxInstanceRequestConcurrency) and lists it in the BadRequest detail.",
	},
	{
		Title:  "Tokens never expire and anyone on this machine can mint one",
		Reason: "POST /_cloud/tokens (cloud token --as) stands in for a signed-in user; service-account tokens come from generateAccessToken with the caller's permission checked, as Google's do.",
	},
	{
		Title:  "Only Firebase Auth's sign-up is served",
		Reason: "accounts:signUp under the Auth emulator's path layout checks the stack's API key and email sign-in and returns an unsigned token, so the CLI's endpoint discovery can be checked end to end; the rest of Firebase Auth is the emulator's (make local).",
	},
}
