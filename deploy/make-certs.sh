#!/usr/bin/env bash
# Makes the certificates of Merak's TLS (docs/security.md) with the openssl CLI, into DIR:
#   ca.crt ca.key                 a CA of its own (keep ca.key off the cluster)
#   coordinator.crt/.key          the coordinator's server certificate, for each NAME given
#   vhost.crt/.key                the agents' server certificate (their own gRPC listener), for
#                                 *.vhost.NAMESPACE.svc and each --vhost-name given
# Usage: make-certs.sh DIR [--namespace NS] [--days N] [--vhost-name NAME]... [NAME|IP]...
# The coordinator's names default to coordinator, coordinator.NS, coordinator.NS.svc and
# coordinator.NS.svc.cluster.local (its Service in the manifests); any NAME or IP given is added.
# An existing ca.crt/ca.key in DIR is reused, so certificates can be renewed under the same CA.
set -euo pipefail

usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

[[ $# -ge 1 && $1 != -* ]] || usage
DIR=$1
shift
NS=merak DAYS=825
NAMES=() VHOST_NAMES=()
while (($#)); do
  case $1 in
    --namespace) NS=${2:?--namespace needs a value}; shift 2 ;;
    --days) DAYS=${2:?--days needs a value}; shift 2 ;;
    --vhost-name) VHOST_NAMES+=("${2:?--vhost-name needs a value}"); shift 2 ;;
    -h | --help) usage ;;
    -*) echo "make-certs.sh: unknown option $1" >&2; usage ;;
    *) NAMES+=("$1"); shift ;;
  esac
done
command -v openssl >/dev/null || { echo "make-certs.sh: needs the openssl CLI" >&2; exit 1; }
[[ $DAYS =~ ^[0-9]+$ ]] || { echo "make-certs.sh: --days '$DAYS' is not a number" >&2; exit 2; }
mkdir -p "$DIR"
umask 077

# subjectAltName entries: IP:... for addresses, DNS:... for names.
san() {
  local out='' n
  for n in "$@"; do
    if [[ $n =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ || $n == *:* ]]; then out+="${out:+,}IP:$n"; else out+="${out:+,}DNS:$n"; fi
  done
  printf '%s' "$out"
}

if [[ ! -f $DIR/ca.crt || ! -f $DIR/ca.key ]]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$DAYS" \
    -subj "/CN=merak-ca" -keyout "$DIR/ca.key" -out "$DIR/ca.crt" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
fi

# leaf NAME CN SAN...: a key and a certificate signed by the CA, for TLS servers.
leaf() {
  local name=$1 cn=$2
  shift 2
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$cn" \
    -keyout "$DIR/$name.key" -out "$DIR/$name.csr" 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' "$(san "$@")" >"$DIR/$name.ext"
  openssl x509 -req -in "$DIR/$name.csr" -CA "$DIR/ca.crt" -CAkey "$DIR/ca.key" -CAcreateserial \
    -days "$DAYS" -extfile "$DIR/$name.ext" -out "$DIR/$name.crt" 2>/dev/null
  rm -f "$DIR/$name.csr" "$DIR/$name.ext"
}

leaf coordinator coordinator coordinator "coordinator.$NS" "coordinator.$NS.svc" "coordinator.$NS.svc.cluster.local" "${NAMES[@]}"
leaf vhost vhost "*.vhost.$NS.svc" "*.vhost.$NS.svc.cluster.local" "${VHOST_NAMES[@]}"
rm -f "$DIR/ca.srl"
chmod 0644 "$DIR/ca.crt" "$DIR/coordinator.crt" "$DIR/vhost.crt"
echo "made in $DIR: ca.crt coordinator.crt coordinator.key vhost.crt vhost.key (CA key: ca.key, keep it out of the cluster)"
