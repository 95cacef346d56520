package cloud

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	"github.com/golang-jwt/jwt/v5"
)

// Workload Identity Federation as a GitHub Actions job meets it, through
// the same routes google-github-actions/auth takes
// (https://github.com/google-github-actions/auth, "Direct Workload Identity
// Federation" through a service account):
//
//  1. the job's OIDC token: here minted by POST /_cloud/github/token with
//     the claims a test gives (the twin stands in for GitHub's issuer, see
//     Deviations), signed RS256 with the cloud's own key;
//  2. Security Token Service, POST /sts/v1/token: the token is checked
//     against the pool's provider (issuer, audience, signature), the
//     provider's attributeMapping is evaluated on its claims, then its
//     attributeCondition, both as CEL (cel-go, the language Google
//     documents for both:
//     https://cloud.google.com/iam/docs/workload-identity-federation#mapping);
//     the answer is a federated access token naming
//     principal://iam.googleapis.com/POOL/subject/SUBJECT and belonging to
//     principalSet://iam.googleapis.com/POOL/attribute.NAME/VALUE for each
//     mapped attribute and principalSet://iam.googleapis.com/POOL/*
//     (https://cloud.google.com/iam/docs/principal-identifiers);
//  3. IAM Credentials' generateAccessToken on the service account with
//     that token, which needs iam.serviceAccounts.getAccessToken through a
//     binding (roles/iam.workloadIdentityUser) that names one of those
//     identities (iamcredentials.go; iam.go allowed).
//
// Google's STS errors are OAuth errors, not the API error envelope
// (google-github-actions/auth prints them as it gets them):
// {"error":"unauthorized_client","error_description":"The given credential
// is rejected by the attribute condition."} (quoted in
// terraform-google-modules/terraform-example-foundation#1362) and
// {"error":"invalid_target","error_description":"The target service
// indicated by the \"audience\" parameters is invalid. ..."} (quoted in
// google-github-actions/auth#370).

// GitHubIssuer is the issuer of GitHub Actions' OIDC tokens.
const GitHubIssuer = "https://token.actions.githubusercontent.com"

var audienceRe = regexp.MustCompile(`^//iam\.googleapis\.com/(projects/([0-9]+)/locations/global/workloadIdentityPools/([a-z0-9-]+)/providers/([a-z0-9-]+))$`)

// celEnv is the environment attribute mappings and conditions are
// compiled in: assertion is the credential's claims, google and attribute
// the mapped attributes.
func celEnv() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("assertion", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("google", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("attribute", cel.MapType(cel.StringType, cel.DynType)),
	)
}

// evalCEL compiles and evaluates one expression.
func evalCEL(expr string, vars map[string]any) (any, error) {
	env, err := celEnv()
	if err != nil {
		return nil, err
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, iss.Err()
	}
	prg, err := env.Program(ast)
	if err != nil {
		return nil, err
	}
	for _, k := range []string{"assertion", "google", "attribute"} {
		if _, ok := vars[k]; !ok {
			vars[k] = map[string]any{}
		}
	}
	out, _, err := prg.Eval(vars)
	if err != nil {
		return nil, err
	}
	return out.Value(), nil
}

// checkProviderExpressions refuses a provider whose mapping or condition
// does not compile, as Google refuses it at create (400).
func checkProviderExpressions(body map[string]any) error {
	env, err := celEnv()
	if err != nil {
		return err
	}
	mapping, _ := body["attributeMapping"].(map[string]any)
	if _, ok := mapping["google.subject"]; len(mapping) > 0 && !ok {
		return InvalidArgument("attributeMapping", "The attribute mapping must map google.subject.")
	}
	for k, v := range mapping {
		if !strings.HasPrefix(k, "google.") && !regexp.MustCompile(`^attribute\.[a-z0-9_]{1,100}$`).MatchString(k) {
			return InvalidArgument("attributeMapping", "Invalid attribute mapping key %q: custom attributes are attribute.NAME with [a-z0-9_].", k)
		}
		if _, iss := env.Compile(fmt.Sprint(v)); iss.Err() != nil {
			return InvalidArgument("attributeMapping", "Invalid attribute mapping for %s: %v", k, iss.Err())
		}
	}
	if cond, _ := body["attributeCondition"].(string); cond != "" {
		if _, iss := env.Compile(cond); iss.Err() != nil {
			return InvalidArgument("attributeCondition", "Invalid attribute condition: %v", iss.Err())
		}
	}
	return nil
}

// githubKey is the key the cloud signs stand-in GitHub tokens with.
func (c *Cloud) githubKey() (*rsa.PrivateKey, error) {
	c.keyOnce.Do(func() { c.ghKey, c.ghKeyErr = rsa.GenerateKey(rand.Reader, 2048) })
	return c.ghKey, c.ghKeyErr
}

// MintGitHubToken signs a GitHub Actions OIDC token with the given claims
// (iss defaults to GitHub's, iat/nbf/exp to now and five minutes on).
func (c *Cloud) MintGitHubToken(claims map[string]any) (string, error) {
	key, err := c.githubKey()
	if err != nil {
		return "", err
	}
	now := c.now()
	all := jwt.MapClaims{"iss": GitHubIssuer, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}
	for k, v := range claims {
		all[k] = v
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, all)
	tok.Header["kid"] = "local-cloud-github"
	return tok.SignedString(key)
}

// stsToken serves Security Token Service's token exchange.
func (c *Cloud) stsToken(w http.ResponseWriter, r *http.Request) {
	entry := LogEntry{Method: r.Method, Path: r.URL.Path, MethodID: "sts.token", Code: 200}
	start := time.Now()
	defer func() { entry.Micros = time.Since(start).Microseconds(); c.record(entry) }()
	fail := func(code int, errCode, desc string) {
		entry.Code, entry.Status, entry.Message = code, errCode, desc
		writeJSON(w, code, map[string]any{"error": errCode, "error_description": desc})
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		fail(400, "invalid_request", "unreadable body")
		return
	}
	in := map[string]string{}
	if json.Unmarshal(raw, &in) != nil {
		form, err := url.ParseQuery(string(raw))
		if err != nil {
			fail(400, "invalid_request", "the body is neither JSON nor a form")
			return
		}
		for k := range form {
			in[k] = form.Get(k)
		}
	}
	param := func(camel, snake string) string {
		if v := in[camel]; v != "" {
			return v
		}
		return in[snake]
	}
	if param("grantType", "grant_type") != "urn:ietf:params:oauth:grant-type:token-exchange" {
		fail(400, "invalid_request", "Invalid value for \"grant_type\": must be urn:ietf:params:oauth:grant-type:token-exchange.")
		return
	}
	if t := param("subjectTokenType", "subject_token_type"); t != "urn:ietf:params:oauth:token-type:jwt" && t != "urn:ietf:params:oauth:token-type:id_token" {
		fail(400, "invalid_request", "Invalid value for \"subject_token_type\".")
		return
	}
	invalidTarget := "The target service indicated by the \"audience\" parameters is invalid. This might either be because the pool or provider is disabled or deleted or because it doesn't exist."
	m := audienceRe.FindStringSubmatch(param("audience", "audience"))
	if m == nil {
		fail(400, "invalid_target", invalidTarget)
		return
	}
	providerName, number, poolID := m[1], m[2], m[3]
	poolName := fmt.Sprintf("projects/%s/locations/global/workloadIdentityPools/%s", number, poolID)

	c.mu.Lock()
	defer c.mu.Unlock()
	prov, pool := c.st.Objects[providerName], c.st.Objects[poolName]
	p := c.st.project(number)
	if prov == nil || pool == nil || p == nil || prov["disabled"] == true || pool["disabled"] == true {
		fail(400, "invalid_target", invalidTarget)
		return
	}
	if err := c.serviceEnabled(p, &Service{Name: "sts.googleapis.com", Title: "Security Token Service API"}); err != nil {
		entry.Code, entry.Status, entry.Message = err.Code, err.Status, err.Message
		writeJSON(w, err.Code, err)
		return
	}
	oidc, _ := prov["oidc"].(map[string]any)
	issuer, _ := oidc["issuerUri"].(string)
	audiences := stringList(oidc["allowedAudiences"])
	if len(audiences) == 0 {
		// The default audience is the provider's full resource name
		// (https://cloud.google.com/iam/docs/workload-identity-federation-with-deployment-pipelines).
		audiences = []string{"https://iam.googleapis.com/" + providerName}
	}
	key, err := c.githubKey()
	if err != nil {
		fail(500, "server_error", err.Error())
		return
	}
	claims := jwt.MapClaims{}
	_, err = jwt.ParseWithClaims(param("subjectToken", "subject_token"), claims, func(*jwt.Token) (any, error) { return &key.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(issuer), jwt.WithTimeFunc(c.now), jwt.WithExpirationRequired())
	if err != nil {
		fail(400, "invalid_grant", "The ID Token could not be verified for the provider's issuer "+issuer+": "+err.Error())
		return
	}
	if aud, _ := claims.GetAudience(); !slices.ContainsFunc(aud, func(a string) bool { return slices.Contains(audiences, a) }) {
		fail(400, "invalid_grant", fmt.Sprintf("The audience in ID Token %v does not match the expected audience %v.", aud, audiences))
		return
	}

	// Map the attributes, then the condition on them.
	assertion := map[string]any(claims)
	google, attribute := map[string]any{}, map[string]any{}
	mapping, _ := prov["attributeMapping"].(map[string]any)
	keys := make([]string, 0, len(mapping))
	for k := range mapping {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, err := evalCEL(fmt.Sprint(mapping[k]), map[string]any{"assertion": assertion})
		if err != nil {
			// ASSUMPTION (Deviations): a mapping that cannot be evaluated
			// on a token (a claim it reads is missing) fails the exchange.
			fail(400, "invalid_grant", fmt.Sprintf("The attribute mapping %s could not be evaluated on the credential: %v", k, err))
			return
		}
		if name, ok := strings.CutPrefix(k, "attribute."); ok {
			attribute[name] = v
		} else {
			google[strings.TrimPrefix(k, "google.")] = v
		}
	}
	subject, _ := google["subject"].(string)
	if subject == "" || len(subject) > 127 {
		fail(400, "invalid_grant", "The mapped google.subject must be 1 to 127 bytes.")
		return
	}
	if cond, _ := prov["attributeCondition"].(string); cond != "" {
		ok, err := evalCEL(cond, map[string]any{"assertion": assertion, "google": google, "attribute": attribute})
		if err != nil || ok != true {
			fail(400, "unauthorized_client", "The given credential is rejected by the attribute condition.")
			return
		}
	}
	principal := "principal://iam.googleapis.com/" + poolName + "/subject/" + subject
	sets := []string{"principalSet://iam.googleapis.com/" + poolName + "/*"}
	for name, v := range attribute {
		sets = append(sets, "principalSet://iam.googleapis.com/"+poolName+"/attribute."+name+"/"+fmt.Sprint(v))
	}
	sort.Strings(sets)
	token, err := c.mintLocked(principal)
	if err != nil {
		fail(500, "server_error", err.Error())
		return
	}
	c.st.Federated[token] = sets
	if err := c.st.save(c.opts.StateDir); err != nil {
		fail(500, "server_error", err.Error())
		return
	}
	entry.Principal = principal
	writeJSON(w, http.StatusOK, map[string]any{"access_token": token, "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
		"token_type": "Bearer", "expires_in": 3599})
}
