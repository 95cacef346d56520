package cloud

import (
	"regexp"
	"time"
)

var poolIDRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{2,30}[a-z0-9]$`)

// IAM Credentials v1: generateAccessToken, what `gcloud auth
// print-access-token --impersonate-service-account=SA` calls. The caller
// needs iam.serviceAccounts.getAccessToken on the account
// (https://cloud.google.com/iam/docs/create-short-lived-credentials-direct#permissions-impersonation,
// roles/iam.serviceAccountTokenCreator). The token names the account.
func (c *Cloud) iamCredentials(s *Service) {
	res := func(r *Request) string {
		name, acct := c.findAccount(r.Var("serviceAccountsId"))
		if acct == nil {
			return "projects/-/serviceAccounts/" + r.Var("serviceAccountsId")
		}
		return name
	}
	s.Methods["iamcredentials.projects.serviceAccounts.generateAccessToken"] = &Method{
		Permission: "iam.serviceAccounts.getAccessToken", Resource: res,
		Handle: func(r *Request) (any, error) {
			_, acct := c.findAccount(r.Var("serviceAccountsId"))
			if acct == nil {
				return nil, NotFound("Requested entity was not found.")
			}
			tok, err := c.mintLocked("serviceAccount:" + acct["email"].(string))
			if err != nil {
				return nil, err
			}
			return map[string]any{"accessToken": tok, "expireTime": timestamp(c.now().Add(time.Hour))}, nil
		}}
}
