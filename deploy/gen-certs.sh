#!/usr/bin/env bash
# Make a certificate authority and per-node certificates for strata's mutual
# TLS, with openssl (ECDSA P-256).
#
#   deploy/gen-certs.sh DIR [NAMES...]
#
# DIR/ca.pem, DIR/ca.key    the CA, CN=strata-ca-<time>-<random> so that two
#                           clusters' CAs never share a name (kept when it
#                           exists: running again adds nodes to the cluster)
# DIR/NAME.pem, NAME.key    per NAME, signed by the CA, with subject CN=NAME
#                           and SANs DNS:NAME, DNS:localhost, IP:127.0.0.1
# DIR/client.pem, .key      a client certificate (CN=client), always made
#
# Existing node certificates are kept too; delete a file to remake it.
# Prints one line per file it made. Certificates are valid for 825 days.
set -euo pipefail

if [ $# -lt 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
DIR=$1
shift
DAYS=825
mkdir -p "$DIR"
umask 077

if [ ! -f "$DIR/ca.pem" ] || [ ! -f "$DIR/ca.key" ]; then
    openssl ecparam -name prime256v1 -genkey -noout -out "$DIR/ca.key"
    openssl req -x509 -new -key "$DIR/ca.key" -sha256 -days "$DAYS" \
        -subj "/CN=strata-ca-$(date +%Y%m%d%H%M%S)-$$-$RANDOM" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -out "$DIR/ca.pem" 2>/dev/null
    echo "made CA $DIR/ca.pem (key $DIR/ca.key)"
else
    echo "kept CA $DIR/ca.pem"
fi

make_cert() {
    local name=$1
    if [ -f "$DIR/$name.pem" ] && [ -f "$DIR/$name.key" ]; then
        echo "kept $DIR/$name.pem"
        return
    fi
    local ext san="DNS:$name,DNS:localhost,IP:127.0.0.1"
    [ "$name" = localhost ] && san="DNS:localhost,IP:127.0.0.1"
    ext=$(mktemp)
    cat >"$ext" <<EXT
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=$san
EXT
    openssl ecparam -name prime256v1 -genkey -noout -out "$DIR/$name.key"
    openssl req -new -key "$DIR/$name.key" -subj "/CN=$name" \
        -out "$DIR/$name.csr" 2>/dev/null
    openssl x509 -req -in "$DIR/$name.csr" -CA "$DIR/ca.pem" \
        -CAkey "$DIR/ca.key" -CAcreateserial -days "$DAYS" -sha256 \
        -extfile "$ext" -out "$DIR/$name.pem" 2>/dev/null
    rm -f "$DIR/$name.csr" "$ext"
    echo "made $DIR/$name.pem (key $DIR/$name.key) CN=$name SAN=$san"
}

for name in "$@" client; do
    case "$name" in
    ca|*/*|"") echo "gen-certs.sh: bad name '$name'" >&2; exit 2 ;;
    esac
    make_cert "$name"
done
