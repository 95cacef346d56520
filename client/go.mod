module github.com/gatehouse/gatehouse/client

go 1.26.8

require (
	github.com/spf13/cobra v1.10.2
	github.com/spf13/pflag v1.0.10
	golang.org/x/oauth2 v0.36.0
	golang.org/x/term v0.48.0
)

require (
	cloud.google.com/go/compute/metadata v0.9.0 // indirect
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)
