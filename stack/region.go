package stack

import (
	"regexp"
	"slices"
	"strings"
)

// GatewayRegions are the regions where API Gateway runs gateways, as listed
// on https://cloud.google.com/api-gateway/docs/deployment-model ("Choosing a
// Google Cloud region"; checked 2026-11): asia-east1 is not served, us-west3
// and us-west4 are. A region Google adds later can be used before this list
// catches up with gatehouse:extraGatewayRegions.
var GatewayRegions = []string{
	"asia-northeast1", "australia-southeast1", "europe-west1", "europe-west2",
	"us-central1", "us-east1", "us-east4", "us-west2", "us-west3", "us-west4",
}

var regionRe = regexp.MustCompile(`^[a-z]+-[a-z]+[0-9]$`)

// checkRegion applies the region rules to gcp:region and
// gatehouse:extraGatewayRegions.
func checkRegion(region string, extra []string, bad func(key, format string, args ...any)) {
	switch {
	case region == "":
		bad("gcp:region", "is required: pulumi config set gcp:region europe-west1")
	case !regionRe.MatchString(region):
		bad("gcp:region", "%q is not a region name", region)
	case !slices.Contains(GatewayRegions, region) && !slices.Contains(extra, region):
		bad("gcp:region", "%q has no API Gateway; use one of %s (or, for a region Google added since, list it in %s:extraGatewayRegions)",
			region, strings.Join(GatewayRegions, ", "), Namespace)
	}
	for _, r := range extra {
		if !regionRe.MatchString(r) {
			bad(Namespace+":extraGatewayRegions", "%q is not a region name", r)
		}
	}
}
