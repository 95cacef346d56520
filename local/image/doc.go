// Package image holds the checks on the backend's container image: a lint
// of service/Dockerfile (run by `make lint` and `make test`) and, under
// `make image-test`, a real offline build and run of the image with Docker.
package image
