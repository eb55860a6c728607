#!/usr/bin/env bash
# Build strata and start a local cluster on 127.0.0.1.
#
# Today (before the broker exists) this installs what is missing, builds every
# binary and prints what is available; the 3-controller, 3-broker cluster
# start lands with the strata-broker issue.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
"$ROOT/deploy/install-deps.sh" build
if [ ! -f "$ROOT/build/build.ninja" ]; then
    meson setup "$ROOT/build" >/dev/null
fi
ninja -C "$ROOT/build"
echo
echo "quickstart: strata built in $ROOT/build."
echo "quickstart: the local cluster starts here once strata-controller and"
echo "quickstart: strata-broker exist (see README.md, Status)."
