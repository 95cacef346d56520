// gatehouse's browser client: Firebase Authentication (email/password)
// and calls to the API through the gateway with the user's ID token.
//
// Its settings come from config.json beside the page, generated, never
// edited: the local twin serves one for the Auth emulator; for a deployed
// stack, `make web-config` writes one from the stack's outputs.
import { initializeApp } from "firebase/app";
import {
  connectAuthEmulator,
  createUserWithEmailAndPassword,
  getAuth,
  onAuthStateChanged,
  signInWithEmailAndPassword,
  signOut,
} from "firebase/auth";

const $ = (id) => document.getElementById(id);

function status(text, state) {
  $("status").textContent = text;
  $("status").dataset.state = state;
}

function show(code, text) {
  $("result").dataset.status = String(code);
  $("result").textContent = text;
}

// authError turns a Firebase Auth error into a readable line.
function authError(err) {
  const messages = {
    "auth/email-already-in-use": "That email already has an account: sign in instead.",
    "auth/invalid-credential": "Wrong email or password.",
    "auth/invalid-email": "That is not an email address.",
    "auth/missing-password": "Enter a password.",
    "auth/weak-password": "The password is too weak (at least 6 characters).",
    "auth/network-request-failed": "Firebase Authentication is unreachable.",
  };
  return messages[err.code] || err.message;
}

async function main() {
  let cfg;
  try {
    const res = await fetch("config.json", { cache: "no-store" });
    if (!res.ok) throw new Error(`config.json: ${res.status}`);
    cfg = await res.json();
  } catch (err) {
    status(`no configuration (${err.message}): serve the page with its config.json`, "error");
    return;
  }
  $("gateway").textContent = cfg.gatewayUrl;
  const app = initializeApp({ apiKey: cfg.apiKey, projectId: cfg.projectId, authDomain: cfg.authDomain });
  const auth = getAuth(app);
  if (cfg.authEmulatorHost) {
    connectAuthEmulator(auth, `http://${cfg.authEmulatorHost}`, { disableWarnings: true });
  }

  onAuthStateChanged(auth, (user) => {
    if (user) status(`signed in as ${user.email}`, "signed-in");
    else status("signed out", "signed-out");
  });

  const credentials = () => [auth, $("email").value.trim(), $("password").value];
  const account = (action) => async () => {
    try {
      await action();
    } catch (err) {
      status(authError(err), "error");
    }
  };
  $("signup").onclick = account(() => createUserWithEmailAndPassword(...credentials()));
  $("signin").onclick = account(() => signInWithEmailAndPassword(...credentials()));
  $("signout").onclick = account(() => signOut(auth));

  // call sends the ID token (the SDK refreshes it when it expires). Signed
  // out, the call goes without one and the gateway answers 401 itself; its
  // own error replies (401, 403, 404, 405) carry no CORS headers, as API
  // Gateway's do not, so the browser hides them from the page and fetch
  // fails as if the network had.
  const call = (path) => async () => {
    const headers = {};
    const user = auth.currentUser;
    if (user) headers.Authorization = `Bearer ${await user.getIdToken()}`;
    show("pending", `GET ${path} ...`);
    let res;
    try {
      res = await fetch(cfg.gatewayUrl + path, { headers });
    } catch {
      if (!user) {
        show("network-error", `GET ${path} without a token: the gateway refused it (401 Jwt is missing), but its ` +
          `error replies carry no CORS headers, so the browser shows the page a network error. Sign in first.`);
      } else {
        show("network-error", `GET ${path}: the browser blocked the call or could not reach the gateway. ` +
          `If the gateway is up, this page's origin (${location.origin}) is probably not in gatehouse:corsOrigins.`);
      }
      return;
    }
    const text = await res.text();
    let body = text;
    try {
      body = JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      // not JSON: show it as it is
    }
    show(res.status, `${res.status} ${res.statusText}\n${body}`);
  };
  $("hello").onclick = call("/v1/hello");
  $("me").onclick = call("/v1/me");
}

main();
