// Package image holds the checks on the backends' container images: the
// lint of the one Dockerfile source every service/cmd/<name>/Dockerfile
// copies (run by `make lint` and `make test`), the proof that each image's
// build context is exactly what its command needs (ContextFiles against
// `go list -deps`), and, under `make image-test`, a real offline build and
// run of every backend's image with Docker.
package image
