// Package local is gatehouse's local twin: the backend, a local gateway that
// enforces the same rendered spec as API Gateway, and the Firebase Auth
// emulator, run together on loopback. Its tests are the project's
// end-to-end suite, and drift/ guards that the spec and every backend agree
// on the API's routes.
package local
