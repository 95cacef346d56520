package main

import (
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/serviceaccount"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/storage"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/gatehouse/gatehouse/infra/components"
)

// stateBucket creates the bucket for Pulumi state (pulumi login gs://...)
// when asked: versioned, uniform access, public access prevented,
// protected; the deployer reads and writes it, the previewer only reads it:
// a preview takes no lock and writes nothing (pulumi's diy backend Preview
// calls apply without Lock, where Update, Refresh, Import and Destroy lock
// first: pkg/backend/diy/backend.go).
func (c *CIAccess) stateBucket(ctx *pulumi.Context, name string, args *CIAccessArgs, apis *components.ProjectServices) error {
	c.StateURL = pulumi.String("").ToStringOutput()
	if args.StateBucket == "" {
		return nil
	}
	api, err := apis.Require("storage.googleapis.com")
	if err != nil {
		return err
	}
	c.Bucket, err = storage.NewBucket(ctx, name+"-state", &storage.BucketArgs{
		Project:                  pulumi.String(args.Project),
		Name:                     pulumi.String(args.StateBucket),
		Location:                 pulumi.String(args.StateLocation),
		UniformBucketLevelAccess: pulumi.Bool(true),
		PublicAccessPrevention:   pulumi.String("enforced"),
		Versioning:               &storage.BucketVersioningArgs{Enabled: pulumi.Bool(true)},
		ForceDestroy:             pulumi.Bool(false),
	}, pulumi.Parent(c), api, pulumi.Protect(true))
	if err != nil {
		return err
	}
	grants := []struct {
		suffix string
		acct   *serviceaccount.Account
		role   string
	}{
		{"deployer", c.Deployer, "roles/storage.objectAdmin"},
		{"previewer", c.Previewer, "roles/storage.objectViewer"},
	}
	for _, g := range grants {
		if _, err := storage.NewBucketIAMMember(ctx, name+"-state-"+g.suffix, &storage.BucketIAMMemberArgs{
			Bucket: c.Bucket.Name,
			Role:   pulumi.String(g.role),
			Member: g.acct.Member,
		}, pulumi.Parent(c)); err != nil {
			return err
		}
	}
	c.StateURL = pulumi.Sprintf("gs://%s", c.Bucket.Name)
	return nil
}
