// gatehouse's browser client: Firebase Authentication (email/password)
// and calls to the API through the gateway with the user's ID token.
//
// Its settings come from config.json beside the page, generated, never
// edited: the local twin serves one for the Auth emulator; for a deployed
// stack, `make web-deployed` writes one from the stack's outputs.
//
// The ID token is a bearer credential, so the page sends it only to a
// gateway over https (plain http only to this machine, for the local
// twin), never follows a redirect with it, and its servers forbid inline
// code and framing (Content-Security-Policy, local/internal/webpage).
import "./style.css";
import { initializeApp } from "firebase/app";
import {
  browserLocalPersistence,
  connectAuthEmulator,
  createUserWithEmailAndPassword,
  indexedDBLocalPersistence,
  initializeAuth,
  onIdTokenChanged,
  signInWithEmailAndPassword,
  signOut,
} from "firebase/auth";

// isLoopback is the one rule for "this machine" (local/internal/loopback
// IsLoopback): localhost, 127.0.0.0/8 or ::1. URL.hostname keeps an IPv6
// address's brackets.
function isLoopback(hostname) {
  return hostname === "localhost" || hostname === "[::1]" || /^127(\.\d{1,3}){3}$/.test(hostname);
}

// checkGatewayUrl is the rule the servers apply too (loopback.CheckURL):
// https, or plain http to this machine only; no user info, query or
// fragment, since API paths are appended to it.
function checkGatewayUrl(raw) {
  let u;
  try {
    u = new URL(raw);
  } catch {
    throw new Error(`gatewayUrl ${JSON.stringify(raw)} is not a URL`);
  }
  if (u.username || u.password || u.search || u.hash) {
    throw new Error(`gatewayUrl ${raw} has user info, a query or a fragment`);
  }
  if (u.protocol === "https:" || (u.protocol === "http:" && isLoopback(u.hostname))) {
    return raw.replace(/\/+$/, "");
  }
  throw new Error(`gatewayUrl ${raw} is not https: the page sends your ID token only over https (plain http only to this machine)`);
}

// checkEmulatorHost: the Auth emulator speaks plain HTTP and receives
// passwords, so only one on this machine (host:port).
function checkEmulatorHost(hostport) {
  let u;
  try {
    u = new URL(`http://${hostport}`);
  } catch {
    throw new Error(`authEmulatorHost ${JSON.stringify(hostport)} is not host:port`);
  }
  if (u.host !== hostport || !u.port || !isLoopback(u.hostname)) {
    throw new Error(`authEmulatorHost ${hostport} is not host:port on this machine`);
  }
  return hostport;
}

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
  let gatewayUrl;
  try {
    gatewayUrl = checkGatewayUrl(cfg.gatewayUrl);
    if (cfg.authEmulatorHost) checkEmulatorHost(cfg.authEmulatorHost);
  } catch (err) {
    status(`refused configuration: ${err.message}`, "error");
    return;
  }
  $("gateway").textContent = gatewayUrl;
  const app = initializeApp({ apiKey: cfg.apiKey, projectId: cfg.projectId, authDomain: cfg.authDomain });
  // Email and password only: no popup or redirect sign-in, so no Google
  // script or frame is loaded (getAuth would set one up).
  const auth = initializeAuth(app, { persistence: [indexedDBLocalPersistence, browserLocalPersistence] });
  if (cfg.authEmulatorHost) {
    connectAuthEmulator(auth, `http://${cfg.authEmulatorHost}`, { disableWarnings: true });
  }

  // Fired on sign-in, sign-out and every new ID token (a refresh), so the
  // roles shown are always those of the token the calls send.
  onIdTokenChanged(auth, async (user) => {
    if (user) status(`signed in as ${user.email}`, "signed-in");
    else status("signed out", "signed-out");
    await showRoles(user);
  });

  // showRoles shows the roles claim of the user's current ID token: what
  // the backends check (read here for display only; the backends read the
  // verified token the gateway forwards).
  async function showRoles(user) {
    const el = $("roles");
    if (!user) {
      el.textContent = "-";
      delete el.dataset.roles;
      return;
    }
    let roles = [];
    try {
      const { claims } = await user.getIdTokenResult();
      if (Array.isArray(claims.roles)) roles = claims.roles.filter((r) => typeof r === "string");
    } catch {
      // no token: shown as none
    }
    el.textContent = roles.length ? roles.join(", ") : "none";
    el.dataset.roles = roles.join(",");
  }

  // A new ID token now (getIdToken(true)), so that claims an operator just
  // set show at once; onIdTokenChanged then shows its roles.
  $("refresh").onclick = async () => {
    const user = auth.currentUser;
    if (!user) {
      status("sign in first", "signed-out");
      return;
    }
    try {
      await user.getIdToken(true);
    } catch (err) {
      status(authError(err), "error");
    }
  };

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
      // redirect "manual": a redirect is not followed, so the token never
      // goes anywhere but the gateway.
      res = await fetch(gatewayUrl + path, { headers, redirect: "manual" });
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
    if (res.type === "opaqueredirect") {
      show("redirect", `GET ${path}: the gateway answered with a redirect, which this page does not follow with your token.`);
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
  $("admin").onclick = call("/v1/admin/hello");
}

main();
