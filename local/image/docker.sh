#!/usr/bin/env bash
# Offline Docker for `make image-test`.
#
#   docker.sh up        install Debian's docker.io if dockerd is missing and start a daemon
#                       (iptables and the bridge off: containers use --network host)
#   docker.sh standins  create local stand-ins for the Dockerfile's base images
#   docker.sh down      stop the daemon `up` started (none started: nothing to do)
#
# The stand-ins exist ONLY so the real service/Dockerfile can be built on a
# machine that cannot pull images. They carry the exact names of the
# Dockerfile's ARG defaults, so the build is the real one; a real build pulls
# the real golang and distroless images instead.
set -euo pipefail

state=${GATEHOUSE_DOCKER_STATE:-/tmp/gatehouse-docker}
sock="$state/docker.sock"
mkdir -p "$state"

sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

daemon_ok() { docker -H "unix://$1" info >/dev/null 2>&1; }

cmd_up() {
  if [ -n "${DOCKER_HOST:-}" ] && docker info >/dev/null 2>&1; then
    echo "$DOCKER_HOST"; return
  fi
  if daemon_ok /var/run/docker.sock; then echo "unix:///var/run/docker.sock"; return; fi
  if daemon_ok "$sock"; then echo "unix://$sock"; return; fi
  if ! command -v dockerd >/dev/null; then
    echo "installing docker.io (dockerd) from Debian..." >&2
    sudo_ env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >&2
  fi
  command -v docker >/dev/null || { echo "no docker client after installing docker.io" >&2; exit 1; }
  sudo_ dockerd --host "unix://$sock" --data-root "$state/data" --exec-root "$state/exec" \
    --pidfile "$state/dockerd.pid" --iptables=false --ip-masq=false --bridge=none \
    >"$state/dockerd.log" 2>&1 &
  for _ in $(seq 1 100); do
    if daemon_ok "$sock"; then echo "unix://$sock"; return; fi
    sleep 0.2
  done
  echo "dockerd did not start; its log:" >&2
  tail -20 "$state/dockerd.log" >&2
  exit 1
}

cmd_down() {
  if [ -f "$state/dockerd.pid" ]; then
    pid=$(cat "$state/dockerd.pid")
    sudo_ kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    rm -f "$state/dockerd.pid"
  fi
}

# arg_default NAME: the default of `ARG NAME=...` in service/Dockerfile.
arg_default() { sed -n "s/^ARG $1=//p" "$(dirname "$0")/../../service/Dockerfile"; }

cmd_standins() {
  local go_image runtime_image root
  go_image=$(arg_default GO_IMAGE)
  runtime_image=$(arg_default RUNTIME_IMAGE)
  [ -n "$go_image" ] && [ -n "$runtime_image" ] || { echo "no ARG defaults in service/Dockerfile" >&2; exit 1; }

  if ! docker image inspect "$go_image" >/dev/null 2>&1; then
    local goroot want
    goroot=$(go env GOROOT)
    want="go${go_image#golang:}"; want=${want%%-*}
    [ "$(go env GOVERSION)" = "$want" ] || echo "note: stand-in $go_image is built from the host's $(go env GOVERSION)" >&2
    root=$(mktemp -d)
    mkdir -p "$root"/{bin,usr/local,etc/ssl/certs,tmp,root,go} && chmod 1777 "$root/tmp"
    cp -a "$goroot" "$root/usr/local/go"
    cp /usr/bin/busybox "$root/bin/busybox"
    for t in sh ls cat mkdir rm cp mv env; do ln -s busybox "$root/bin/$t"; done
    cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
    printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
    printf 'root:x:0:\n' >"$root/etc/group"
    tar -C "$root" -c . | docker import \
      --change 'ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'ENV GOPATH=/go' --change 'ENV GOTOOLCHAIN=local' --change 'WORKDIR /go' \
      - "$go_image" >/dev/null
    rm -rf "$root"
    echo "created stand-in $go_image" >&2
  fi

  if ! docker image inspect "$runtime_image" >/dev/null 2>&1; then
    root=$(mktemp -d)
    mkdir -p "$root"/{etc/ssl/certs,tmp,home/nonroot} && chmod 1777 "$root/tmp"
    cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
    printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$root/etc/passwd"
    printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' >"$root/etc/group"
    chown 65532:65532 "$root/home/nonroot"
    tar -C "$root" -c . | docker import --change 'USER 65532' --change 'WORKDIR /home/nonroot' \
      --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' - "$runtime_image" >/dev/null
    rm -rf "$root"
    echo "created stand-in $runtime_image" >&2
  fi
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  standins) cmd_standins ;;
  *) echo "usage: $0 up|standins|down" >&2; exit 2 ;;
esac
