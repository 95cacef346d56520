package stack

import "strings"

// GoogleAuth is what the default Google provider would read from the gcp:
// keys (an explicit provider reads no stack config by itself). Empty:
// Application Default Credentials.
type GoogleAuth struct {
	AccessToken, Credentials, ImpersonateServiceAccount string
}

// ReadGoogleAuth reads gcp:accessToken, gcp:credentials and
// gcp:impersonateServiceAccount.
func ReadGoogleAuth(gcp Source) GoogleAuth {
	return GoogleAuth{
		AccessToken:               strings.TrimSpace(gcp.Get("accessToken")),
		Credentials:               strings.TrimSpace(gcp.Get("credentials")),
		ImpersonateServiceAccount: strings.TrimSpace(gcp.Get("impersonateServiceAccount")),
	}
}
