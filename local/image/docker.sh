#!/usr/bin/env bash
# Offline Docker for `make image-test`, `make bench` and `make plan`.
#
#   docker.sh run CMD [ARG...]  run CMD with DOCKER_HOST pointing at a working Docker daemon and the
#                               base-image stand-ins present; a daemon this script started for CMD
#                               is stopped (and what it mounted unmounted) on every exit path
#   docker.sh daemon CMD [ARG...]  the same without the stand-ins
#   docker.sh busybox           print the path of a statically linked busybox, installing Debian's
#                               busybox-static if there is none (GATEHOUSE_BUSYBOX names another path)
#
# Which daemon: DOCKER_HOST if it answers, else /var/run/docker.sock if it answers, else our own
# dockerd (Debian's docker.io is installed when dockerd is missing; iptables and the bridge off:
# containers use --network host). Our own daemon is per checkout and per run:
#   - its image store lives in the checkout's .cache/docker (kept between runs, so the stand-ins and
#     the build cache are reused; deleted with the checkout);
#   - its sockets, pidfile and exec-root live in a fresh temp dir of this run only;
#   - runs of the same checkout take turns (flock on .cache/docker.lock); runs of different checkouts
#     run side by side with separate daemons;
#   - we stop only the daemon whose pid we started, never one found on the machine.
#
# The stand-ins exist ONLY so the real backend Dockerfile (service/cmd/*/Dockerfile) can be built on a machine that cannot pull
# images. They carry the exact names of the Dockerfile's ARG defaults, so the build is the real one;
# a real build pulls the real golang and distroless images instead.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd -P)
cache=${GATEHOUSE_DOCKER_CACHE:-$repo/.cache/docker}

sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() {
  echo "installing $* from Debian (one time)..." >&2
  sudo_ env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

daemon_ok() { docker -H "$1" info >/dev/null 2>&1; }

# Everything this run creates is removed by cleanup, whatever ends the run.
run_dir="" dockerd_pid="" cmd_pid="" tmp_dirs=()
cleanup() {
  local rc=$?
  set +e
  if [ -n "$cmd_pid" ] && kill -0 "$cmd_pid" 2>/dev/null; then
    kill -TERM "$cmd_pid" 2>/dev/null
    wait "$cmd_pid" 2>/dev/null
  fi
  if [ -n "$dockerd_pid" ]; then
    sudo_ kill "$dockerd_pid" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.1; done
    # Whatever is left of its session (a containerd, a hung dockerd) goes too.
    sudo_ kill -9 -- "-$dockerd_pid" 2>/dev/null
  fi
  if [ -n "$run_dir" ]; then
    # dockerd leaves mounts behind (exec/netns, overlays of killed containers): unmount, deepest first.
    findmnt -rn -o TARGET | grep -F -e "$run_dir" -e "$cache/data" | sort -r |
      while read -r m; do sudo_ umount -l "$m" 2>/dev/null; done
    sudo_ rm -rf "$run_dir"
  fi
  for d in "${tmp_dirs[@]}"; do sudo_ rm -rf "$d"; done
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# is_static FILE: FILE is an executable that needs no dynamic loader (the stand-in has no libc).
is_static() { [ -x "$1" ] && { LC_ALL=C ldd "$1" 2>&1 || true; } | grep -q "not a dynamic executable"; }

cmd_busybox() {
  local want=${GATEHOUSE_BUSYBOX:-/bin/busybox} c
  for c in "$want" /bin/busybox; do
    if is_static "$c"; then echo "$c"; return; fi
  done
  # Debian's busybox is dynamically linked; busybox-static is not. They conflict, so this replaces it.
  echo "no static busybox at $want (the Go stand-in image needs one)" >&2
  apt_install busybox-static
  is_static /bin/busybox || { echo "busybox-static installed, but /bin/busybox is not static" >&2; exit 1; }
  echo /bin/busybox
}

# ours PGID: a process of group PGID runs with this checkout's image store or a run dir of ours.
ours() {
  local pgid=$1 p st
  for p in /proc/[0-9]*; do
    st=$(cat "$p/stat" 2>/dev/null) || continue
    st=${st##*) }                  # fields after "(comm) ": state ppid pgrp ...
    read -r _ _ pg _ <<<"$st"
    [ "$pg" = "$pgid" ] || continue
    tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -e "$cache/data" -e /tmp/gatehouse-docker. && return 0
  done
  return 1
}

start_daemon() {
  if [ -n "${DOCKER_HOST:-}" ] && daemon_ok "$DOCKER_HOST"; then return; fi
  if daemon_ok unix:///var/run/docker.sock; then export DOCKER_HOST=unix:///var/run/docker.sock; return; fi
  { command -v dockerd && command -v docker; } >/dev/null || apt_install docker.io
  command -v docker >/dev/null || { echo "no docker client after installing docker.io" >&2; exit 1; }

  mkdir -p "$cache"
  exec 9>"$cache.lock"
  if ! flock -n 9; then
    echo "waiting for another run in this checkout to release its Docker daemon ($cache.lock)..." >&2
    flock 9
  fi
  # A daemon of this checkout left by a run that was killed outright (SIGKILL runs no cleanup) would
  # keep the image store busy: holding the lock, we know it is nobody's now, so stop it. dockerd runs
  # in a session of its own (setsid), so its pid is its process group, which takes containerd along
  # even where dockerd itself is gone; the group is ours only if one of its processes names our
  # store or run dirs (a reused pid is left alone).
  local old
  old=$(cat "$cache.pid" 2>/dev/null || true)
  if [ -n "$old" ] && ours "$old"; then
    echo "stopping dockerd $old and its containerd, left behind by an earlier run of this checkout" >&2
    sudo_ kill -- "-$old" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 -- "-$old" 2>/dev/null || break; sleep 0.1; done
    sudo_ kill -9 -- "-$old" 2>/dev/null || true
  fi
  # Short path: unix socket paths are limited to 108 bytes.
  run_dir=$(mktemp -d /tmp/gatehouse-docker.XXXXXX)
  local sock="$run_dir/docker.sock"
  # setsid: our daemon is not in the caller's process group, so a Ctrl-C reaches this script (which
  # stops the daemon in order) rather than the daemon mid-build.
  local as_root=()
  [ "$(id -u)" = 0 ] || as_root=(sudo)
  # Not through the sudo_ function: a backgrounded function is a subshell, and $! would be its pid,
  # not dockerd's. setsid execs dockerd in place (we are no group leader), so $! is dockerd.
  "${as_root[@]}" setsid dockerd --host "unix://$sock" --data-root "$cache/data" --exec-root "$run_dir/exec" \
    --pidfile "$run_dir/dockerd.pid" --iptables=false --ip-masq=false --bridge=none \
    >"$run_dir/dockerd.log" 2>&1 9>&- &
  dockerd_pid=$!
  echo "$dockerd_pid" >"$cache.pid"
  for _ in $(seq 1 150); do
    if daemon_ok "unix://$sock"; then export DOCKER_HOST="unix://$sock"; return; fi
    kill -0 "$dockerd_pid" 2>/dev/null || break
    sleep 0.2
  done
  echo "dockerd did not start; its log:" >&2
  tail -20 "$run_dir/dockerd.log" >&2
  exit 1
}

# arg_default NAME: the default of `ARG NAME=...` in the backends' Dockerfile (service/cmd/*/Dockerfile: one content).
arg_default() { sed -n "s/^ARG $1=//p" "$repo/service/cmd/hello/Dockerfile"; }

standins() {
  local go_image runtime_image root busybox
  go_image=$(arg_default GO_IMAGE)
  runtime_image=$(arg_default RUNTIME_IMAGE)
  [ -n "$go_image" ] && [ -n "$runtime_image" ] || { echo "no ARG defaults in service/cmd/hello/Dockerfile" >&2; exit 1; }

  if ! docker image inspect "$go_image" >/dev/null 2>&1; then
    local goroot want
    busybox=$(cmd_busybox)
    goroot=$(go env GOROOT)
    want="go${go_image#golang:}"; want=${want%%-*}
    [ "$(go env GOVERSION)" = "$want" ] || echo "note: stand-in $go_image is built from the host's $(go env GOVERSION)" >&2
    root=$(mktemp -d); tmp_dirs+=("$root")
    mkdir -p "$root"/{bin,usr/local,etc/ssl/certs,tmp,root,go} && chmod 1777 "$root/tmp"
    cp -a "$goroot" "$root/usr/local/go"
    cp "$busybox" "$root/bin/busybox"
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
    root=$(mktemp -d); tmp_dirs+=("$root")
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

usage() { echo "usage: $0 run|daemon CMD [ARG...] | busybox" >&2; exit 2; }

case "${1:-}" in
  run | daemon)
    what=$1; shift
    [ $# -gt 0 ] || usage
    start_daemon
    [ "$what" = daemon ] || standins
    # Not exec: this shell stays to stop the daemon when CMD ends. In the background (stdin kept)
    # so that a TERM or HUP to this script is handled at once, not when CMD happens to end.
    "$@" <&0 &
    cmd_pid=$!
    wait "$cmd_pid"
    ;;
  busybox) cmd_busybox ;;
  *) usage ;;
esac
