// Package components holds gatehouse's Pulumi component resources. Each is
// built as NewX(ctx, name, *XArgs, ...pulumi.ResourceOption), parents its
// children (named name+"-…") and registers its outputs last.
package components

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// typePrefix is the package part of every component's type token.
const typePrefix = "gatehouse:components:"

// withParent appends pulumi.Parent(parent) to opts.
func withParent(parent pulumi.Resource, opts ...pulumi.ResourceOption) []pulumi.ResourceOption {
	return append([]pulumi.ResourceOption{pulumi.Parent(parent)}, opts...)
}
