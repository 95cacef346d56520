#!/usr/bin/env bash
# Prints the path of Chromium for the browser test (local/browser), installing Debian's chromium
# package the first time. The test drives it headless over the DevTools protocol (chromedp).
set -euo pipefail
if path=$(command -v chromium); then echo "$path"; exit 0; fi
sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
echo "installing Debian's chromium for the browser test (one time, about 100 MB)..." >&2
sudo_ env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >&2
command -v chromium
