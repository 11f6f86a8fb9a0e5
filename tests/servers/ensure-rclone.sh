#!/usr/bin/env bash
# Makes sure Debian's rclone exists: the WebDAV conformance cases also run against
# `rclone serve webdav` (a second WebDAV server, with answers of its own). Idempotent.
set -euo pipefail

command -v rclone >/dev/null && exit 0

as_root() {
    if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}
export DEBIAN_FRONTEND=noninteractive
install() {
    as_root apt-get install -y --no-install-recommends rclone
}
install || { as_root apt-get update && install; }
