package spec

import (
	"fmt"
	"time"
)

// Contract is what a deployment's document says that its configuration
// alone decides: everything but the backends' URLs and the API's managed
// service name, which exist only once the stack is deployed. It is built
// once from the stack's config (stack.Config.Contract) and handed to the
// gateway component as data; Render makes the document once the URLs are
// known (the stack renders it once with Placeholders to check it before
// anything is deployed).
type Contract struct {
	Title             string
	FirebaseProjectID string
	ServiceAccounts   []ServiceAccount
	CORS              bool
	Deadline          time.Duration // every backend's, unless its Fragment sets one
	Backends          []Fragment
}

// Fragment is a backend's name and its Swagger 2.0 fragment.
type Fragment struct {
	Name     string
	Document []byte
	Deadline time.Duration // zero: the contract's
}

// Params are the rendering params for the deployed backends' URLs (by
// backend name) and the API's managed service name (needed with CORS). A
// backend without a URL gets none, which Validate reports under its index.
func (c Contract) Params(urls map[string]string, endpointsName string) Params {
	p := Params{
		Title:             c.Title,
		Deadline:          c.Deadline,
		FirebaseProjectID: c.FirebaseProjectID,
		ServiceAccounts:   c.ServiceAccounts,
		CORS:              c.CORS,
	}
	if c.CORS {
		p.EndpointsName = endpointsName
	}
	for _, b := range c.Backends {
		p.Backends = append(p.Backends, BackendRoute{Name: b.Name, URL: urls[b.Name], Deadline: b.Deadline, Fragment: b.Document})
	}
	return p
}

// Render renders and validates the deployed document.
func (c Contract) Render(urls map[string]string, endpointsName string) ([]byte, error) {
	return Render(c.Params(urls, endpointsName))
}

// Placeholders are a URL of the right shape for every backend and a managed
// service name, for checking a contract before anything exists.
func (c Contract) Placeholders() (urls map[string]string, endpointsName string) {
	urls = map[string]string{}
	for _, b := range c.Backends {
		urls[b.Name] = fmt.Sprintf("https://placeholder-%s.a.run.app", b.Name)
	}
	return urls, "placeholder.apigateway.placeholder.cloud.goog"
}
