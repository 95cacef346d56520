// Package browser holds the browser client's end-to-end test: headless
// Chromium (Debian's, installed by chromium.sh) driven over the DevTools
// protocol with chromedp, against the local twin serving the page on its
// own origin, the Firebase Auth emulator and the local gateway.
package browser
