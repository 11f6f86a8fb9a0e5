#!/usr/bin/env bash
# Makes sure the HTTP storage servers of the end-to-end tests are installed in a cache
# folder that the tests find the same way (tests/src/http_servers.rs):
#   ${FERRY_TEST_SERVERS:-${XDG_CACHE_HOME:-$HOME/.cache}/ferry-test-servers}
#     venv/       a Python venv: moto (S3), wsgidav + cheroot (WebDAV), and boto3 and
#                 azure-storage-blob, which only the tests' setup scripts use
#     azurite/    npm prefix holding azurite (Azure Blob), run with the system's node
#     installed   marker: the versions below; when it matches, nothing is done
# Idempotent; a rerun with everything in place returns at once. Needs python3 (with venv),
# node >= 18 and npm.
set -euo pipefail

# Exact versions, verified together. Azurite 3.37 and later want node >= 22.
PYTHON_PACKAGES=(
    "moto[server]==5.2.6"
    "wsgidav==4.4.0"
    "cheroot==11.1.2"
    "boto3==1.44.8"
    "azure-storage-blob==12.31.1"
)
AZURITE=azurite@3.35.0

CACHE=${FERRY_TEST_SERVERS:-${XDG_CACHE_HOME:-$HOME/.cache}/ferry-test-servers}
MARKER=$CACHE/installed
WANTED="python: ${PYTHON_PACKAGES[*]}
npm: $AZURITE"

installed() {
    [[ -f $MARKER && "$(cat "$MARKER")" == "$WANTED" ]] &&
        [[ -x $CACHE/venv/bin/moto_server && -x $CACHE/venv/bin/wsgidav ]] &&
        [[ -f $CACHE/azurite/node_modules/azurite/dist/src/blob/main.js ]]
}
installed && exit 0

mkdir -p "$CACHE"
# One install at a time (two test runs may start together); the second one finds it done.
exec 9>"$CACHE/.lock"
flock 9
installed && exit 0

# The environment may point AWS tools at a CA bundle or credentials; none of that belongs
# in the servers' installation.
while IFS= read -r name; do unset "$name"; done < <(compgen -e | grep '^AWS_' || true)

echo "ensure-http-servers: installing into $CACHE" >&2
rm -f "$MARKER"
rm -rf "$CACHE/venv" "$CACHE/azurite"

"${PYTHON:-python3}" -m venv "$CACHE/venv"
"$CACHE/venv/bin/python" -m pip install --quiet --upgrade pip
"$CACHE/venv/bin/python" -m pip install --quiet "${PYTHON_PACKAGES[@]}"

node_major=$(node -p 'process.versions.node.split(".")[0]')
if (( node_major < 18 )); then
    echo "ensure-http-servers: azurite needs node >= 18, found $(node --version)" >&2
    exit 1
fi
mkdir -p "$CACHE/azurite"
npm install --silent --no-audit --no-fund --omit=dev --prefix "$CACHE/azurite" "$AZURITE"

printf '%s' "$WANTED" >"$MARKER"
installed || { echo "ensure-http-servers: installed, but something is missing in $CACHE" >&2; exit 1; }
echo "ensure-http-servers: done" >&2
