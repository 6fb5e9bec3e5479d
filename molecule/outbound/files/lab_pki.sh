#!/usr/bin/env bash
# The lab's PKI, made once on the name server: a CA the relays trust, a
# certificate for the internet's mail host (its names, but not mx-stsbad) and
# one for the MTA-STS policy server. Prints nothing; files in /etc/lab-pki.
set -euo pipefail
dir=/etc/lab-pki
[ -s "$dir/sts.crt" ] && exit 0
mkdir -p "$dir" && cd "$dir"
# Python 3.13 (Debian 13) verifies strictly (X509_STRICT): the CA needs key
# usage, every certificate key identifiers.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=Lab CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" -keyout ca.key -out ca.crt 2>/dev/null
issue() {  # name, subjectAltName
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" -keyout "$1.key" -out "$1.csr" 2>/dev/null
    openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
        -extfile <(printf '%s\n' "subjectAltName=$2" "extendedKeyUsage=serverAuth" "basicConstraints=critical,CA:FALSE" \
            "keyUsage=critical,digitalSignature" "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid,issuer") \
        -out "$1.crt" 2>/dev/null
}
issue mx "DNS:mx.internet.test,DNS:mx-dane.internet.test,DNS:mx-sts.internet.test,DNS:mx-bad.internet.test"
issue sts "DNS:mta-sts.sts.internet.test,DNS:mta-sts.stsbad.internet.test,DNS:mta-sts.ststest.internet.test,DNS:mta-sts.both.internet.test"
chmod 0644 ./*.crt ./*.key
