#!/usr/bin/env bash
# A real `pulumi preview` of the stack, offline, with no cloud account: the engine, the Go language
# host and the gcp/docker providers' own input checks all run; nothing can leave the machine.
#
#   infra/plan/plan.sh [-o DIR] [-p PROJECT_DIR] [-c CONFIG.yaml] [-n] [-j] [-s STATE.json] [KEY=VALUE ...]
#
#   -o DIR          where plan.json (pulumi preview --json) and plan.txt (the readable diff) go
#                   (default: .cache/plan in the checkout)
#   -p PROJECT_DIR  the Pulumi project to preview (default: the checkout; tests pass a copy;
#                   infra/bootstrap for the CI bootstrap program)
#   -c CONFIG.yaml  the stack file to plan (`make plan` passes Pulumi.$STACK.yaml), copied without what
#                   a throw-away stack cannot read: its secrets provider's keys and secure: values
#                   (default: gcp:project and gcp:region only); infra/bootstrap's Pulumi.example.yaml
#                   for the bootstrap
#   -n              no Docker daemon (a program without the docker provider)
#   -j              plan.json (and plan.err) only: one preview instead of two, no readable diff
#                   (plan.txt); the tests read the JSON, and each preview compiles the program anew
#   -s STATE.json   a deployment (`pulumi stack export` format) imported into the throw-away stack
#                   first, so the preview diffs against it instead of planning a fresh stack
#   KEY=VALUE       extra stack config, such as gatehouse:minInstances=5 (tests use it for bad config)
#
# How it stays offline and leaves the user's Pulumi setup alone:
#   - a throw-away local backend and PULUMI_HOME in a temp dir (passphrase secrets); the user's
#     plugins are reused read-only, their login, credentials and stacks are never read or written;
#   - a dummy access token (GOOGLE_OAUTH_ACCESS_TOKEN), so the Google provider looks for no credentials,
#     and no region lookup (PULUMI_GCP_SKIP_REGION_VALIDATION), which would look for them;
#   - all outbound HTTP(S) goes to a closed loopback port (HTTPS_PROXY=http://127.0.0.1:9), so any
#     Google API call fails at once instead of reaching out;
#   - a Docker daemon is reachable (the docker provider connects at Configure, even in preview):
#     local/image/docker.sh provides one and stops it afterwards.
# It prints which file and project it plans, the plan, and a summary of every resource by operation,
# type, name and parent (from plan.json: pulumi's diff tree can show a resource under another
# component than its parent).
# Exit status: pulumi preview's (0: the plan is valid). Uses the `pulumi` on PATH.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd -P)
out=$repo/.cache/plan project=$repo state="" base="" docker=1 text=1
while getopts "o:p:c:njs:" opt; do
  case $opt in
    o) out=$OPTARG ;;
    p) project=$OPTARG ;;
    c) base=$(cd "$(dirname "$OPTARG")" && pwd)/$(basename "$OPTARG") ;;
    n) docker=0 ;;
    j) text=0 ;;
    s) state=$(cd "$(dirname "$OPTARG")" && pwd)/$(basename "$OPTARG") ;;
    *) echo "usage: $0 [-o DIR] [-p PROJECT_DIR] [-c CONFIG.yaml] [-n] [-j] [-s STATE.json] [KEY=VALUE ...]" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))

if ! command -v pulumi >/dev/null; then
  echo "plan: the Pulumi CLI is not installed (https://www.pulumi.com/docs/install/); in this" >&2
  echo "repository's CI: eval \"\$(../shared/pulumi/install)\"" >&2
  exit 3
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)

work=$(mktemp -d /tmp/gatehouse-plan.XXXXXX)
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Module downloads happen now, before the proxy is closed (the language host compiles the program).
# The program's module: the project's own, its infra/ (the root project) or its parent's (a program
# in a subfolder of infra/, such as infra/bootstrap).
for mod in "$project" "$project/infra" "$project/.."; do [ -f "$mod/go.mod" ] && break; done
(cd "$mod" && go mod download && GOWORK=off go mod download)
# plan.sh's own helper (infra/plan/planfile), built while the network is open.
(cd "$repo/infra" && go build -o "$work/planfile" ./plan/planfile)

user_home=${PULUMI_HOME:-$HOME/.pulumi}
mkdir -p "$work/home" "$work/state"
[ -d "$user_home/plugins" ] && ln -s "$user_home/plugins" "$work/home/plugins"

if [ -n "$base" ]; then
  "$work/planfile" config "$base" "$work/Pulumi.plan.yaml"
else
  echo "planning the built-in config (project gatehouse-plan-test)"
  cat >"$work/Pulumi.plan.yaml" <<'EOF'
config:
  gcp:project: gatehouse-plan-test
  gcp:region: europe-west1
EOF
fi

export PULUMI_HOME="$work/home" PULUMI_BACKEND_URL="file://$work/state" PULUMI_CONFIG_PASSPHRASE=offline-plan
export PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
# A dummy token, so the Google provider looks for no credentials (the provider reads it from the
# environment, as it would gcp:accessToken; keeping it out of the config keeps it out of the state).
export GOOGLE_OAUTH_ACCESS_TOKEN=offline-dummy-token
# pulumi-gcp checks gcp:region against the compute API's list of regions with Application Default
# Credentials and the real endpoint, whatever the provider is configured with (its preconfigure
# hook, provider/resources.go; ../shared/reference/gcp-control-plane.md section 1.5). Offline that
# printed "failed to get regions list ... could not find default credentials", which read like a
# problem; the stack checks the region itself (package stack, GatewayRegions), so skip it.
export PULUMI_GCP_SKIP_REGION_VALIDATION=true

# inner runs with the Docker daemon up; only from here on is the network closed (installing
# docker.io, if needed, happened before).
inner() {
  set -euo pipefail
  export HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 http_proxy=http://127.0.0.1:9
  export NO_PROXY=127.0.0.1,localhost,::1 no_proxy=127.0.0.1,localhost,::1
  export GOPROXY=off # the language host compiles the program from the module cache only
  local conf="$work/Pulumi.plan.yaml" rc=0
  p() { pulumi --cwd "$project" --non-interactive "$@"; }
  # `stack init` writes the passphrase's salt to Pulumi.plan.yaml in the project: remove it on the
  # way out (the run's own config is in $work), unless the project had one already. This trap
  # replaces the script's own (with -n, inner runs in the script's shell), so it removes $work too.
  local salt="$project/Pulumi.plan.yaml" keep=""
  [ ! -e "$salt" ] || keep=1
  trap "[ -n '$keep' ] || rm -f $(printf %q "$salt"); rm -rf $(printf %q "$work")" EXIT
  p stack init plan >/dev/null
  if [ -n "$state" ]; then p stack import --stack plan --file "$state" >/dev/null; fi
  for kv in "$@"; do
    p config set --stack plan --config-file "$conf" --path "${kv%%=*}" "${kv#*=}"
  done
  p preview --stack plan --config-file "$conf" --json >"$out/plan.json" 2>"$out/plan.err" || rc=$?
  [ "$text" = 1 ] || return $rc
  p preview --stack plan --config-file "$conf" --diff --color never >"$out/plan.txt" 2>&1 || true
  if [ -s "$out/plan.json" ] && "$work/planfile" summary "$out/plan.json" >"$out/summary.txt" 2>/dev/null; then
    printf '\nEvery resource by type, name and parent (from plan.json):\n' >>"$out/plan.txt"
    cat "$out/summary.txt" >>"$out/plan.txt"
  fi
  cat "$out/plan.txt"
  return $rc
}
export -f inner
export project work out state text
if [ "$docker" = 1 ]; then
  "$repo/local/image/docker.sh" daemon bash -c 'inner "$@"' inner "$@"
else
  inner "$@"
fi
