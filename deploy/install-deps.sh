#!/usr/bin/env bash
# Install the Debian packages strata needs, only those that are missing.
#   deploy/install-deps.sh build   what building needs
#   deploy/install-deps.sh test    plus what the tests need (default)
# Runs apt-get update only when something is missing. Needs root (or sudo).
set -euo pipefail

WHAT=${1:-test}
PKGS=(build-essential meson ninja-build pkg-config libevent-dev
      libprotobuf-c-dev protobuf-c-compiler libssl-dev libzstd-dev check
      openssl python3)
if [ "$WHAT" = test ]; then
    PKGS+=(clang libclang-rt-14-dev iproute2 iptables procps psmisc faketime)
fi

missing=()
for p in "${PKGS[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
            grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=
if [ "$(id -u)" != 0 ]; then
    SUDO=sudo
fi
echo "install-deps: installing ${missing[*]}" >&2
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
