#!/usr/bin/env bash
# Makes sure the browser tests can run: Debian's chromium (/usr/bin/chromium) and
# playwright-core, installed in the same cache folder as the other test servers:
#   ${FERRY_TEST_SERVERS:-${XDG_CACHE_HOME:-$HOME/.cache}/ferry-test-servers}/playwright
# tests/browser/*.mjs load playwright-core from there (or from $FERRY_PLAYWRIGHT_DIR) and
# drive /usr/bin/chromium; playwright never downloads a browser of its own.
# Idempotent; a rerun with everything in place returns at once. Needs node >= 20 and npm.
set -euo pipefail

# Exact version, verified with Debian's chromium 148.
PLAYWRIGHT=playwright-core@1.64.1

CACHE=${FERRY_TEST_SERVERS:-${XDG_CACHE_HOME:-$HOME/.cache}/ferry-test-servers}
DIR=$CACHE/playwright
PACKAGE_JSON=$DIR/node_modules/playwright-core/package.json

have_chromium() { [[ -x /usr/bin/chromium ]]; }
have_playwright() {
    [[ -f $PACKAGE_JSON ]] &&
        [[ "$(node -p 'require(process.argv[1]).version' "$PACKAGE_JSON")" == "${PLAYWRIGHT#*@}" ]]
}
have_chromium && have_playwright && exit 0

as_root() {
    if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}
if ! have_chromium; then
    echo "ensure-chromium: installing Debian's chromium" >&2
    export DEBIAN_FRONTEND=noninteractive
    # fonts-liberation: a recommended package of chromium, which --no-install-recommends
    # leaves out; without some font the screenshots show boxes instead of text.
    install() {
        as_root apt-get install -y --no-install-recommends chromium fonts-liberation
    }
    install || { as_root apt-get update && install; }
fi

if ! have_playwright; then
    mkdir -p "$CACHE"
    # One install at a time (two test runs may start together); the second one finds it done.
    exec 9>"$CACHE/.lock-playwright"
    flock 9
    if ! have_playwright; then
        node_major=$(node -p 'process.versions.node.split(".")[0]')
        if (( node_major < 20 )); then
            echo "ensure-chromium: $PLAYWRIGHT needs node >= 20, found $(node --version)" >&2
            exit 1
        fi
        echo "ensure-chromium: installing $PLAYWRIGHT into $DIR" >&2
        rm -rf "$DIR"
        mkdir -p "$DIR"
        PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 \
            npm install --silent --no-audit --no-fund --omit=dev --save-exact \
            --prefix "$DIR" "$PLAYWRIGHT"
        have_playwright || { echo "ensure-chromium: installed, but $PACKAGE_JSON is missing or wrong" >&2; exit 1; }
    fi
fi
have_chromium || { echo "ensure-chromium: /usr/bin/chromium is still missing" >&2; exit 1; }
echo "ensure-chromium: done" >&2
