#!/usr/bin/env bash
# The image smoke test: the real vhost and coordinator images, built (images/build.sh) and run as a
# cluster would run them, on this machine. A coordinator container and three privileged vhost
# containers, each in a network namespace of its own on a test underlay (a Linux bridge and veths,
# 203.0.113.0/24, TEST-NET-3, only inside those namespaces); a scenario of 4 VMs per vhost in one VPC
# with its ping test, run by the merak CLI against the coordinator container; the agent's /readyz and
# /metrics read inside a vhost; the scenario deleted; every container stopped with SIGTERM (the
# coordinator also once with SIGINT) and checked to exit 0; then nothing of it may be left
# (containers, namespaces, links, files). Every name starts with a unique prefix; cleanup runs on
# success, failure and signals. The built images are kept: they are the build cache of the next run.
#
# Run by `npm test` when CI=true, with `npm test -- --images` or MERAK_IMAGE_TEST=1 (scripts/test.sh);
# alone: bash test/images/smoke.sh (as root, after the repository is built). Prints its figures.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$ROOT/images/lib.sh"

say() { printf 'image smoke: %s\n' "$*"; }
fail() { say "FAILED: $*"; exit 1; }
now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

[[ $(id -u) == 0 ]] || fail "needs root (namespaces, privileged containers)"
# podman always (installed from Debian when missing), Docker engine or not: `--network ns:PATH`
# joins a namespace made here, and podman needs no daemon.

# Short, unique: interface names have at most 15 characters (P + "-br", P + "v2").
P=mks$(printf '%04x' $((RANDOM % 65536)))
TAG=smoke
WORK=$(mktemp -d "/tmp/merak-$P-XXXXXX")
NET=203.0.113
COORD_IP=$NET.1
VHOSTS=(0 1 2)

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  if [[ $rc != 0 ]]; then
    for c in $(podman ps -a --format '{{.Names}}' 2>/dev/null | grep "^$P-"); do
      say "logs of $c (last 30 lines):"
      podman logs --tail 30 "$c" 2>&1 | sed 's/^/    /'
    done
  fi
  for c in $(podman ps -a --format '{{.Names}}' 2>/dev/null | grep "^$P-"); do podman rm -f -t 5 "$c" >/dev/null 2>&1; done
  for ns in $(ip netns list | awk '{print $1}' | grep "^$P-"); do ip netns delete "$ns"; done
  ip link delete "$P-br" 2>/dev/null
  for l in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep "^$P"); do ip link delete "$l" 2>/dev/null; done
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- the images -----------------------------------------------------------------------------------
t=$(now)
"$ROOT/images/build.sh" --engine podman --tag "$TAG" | tee "$WORK/build.txt"
say "images built in $(since "$t") s"
images_podman_conf "$WORK"
# The coordinator's better-sqlite3 is built without the cleanup hook of Node 24.19's ObjectWrap
# (images/coordinator/Dockerfile, docs/images.md): only that hook's destructor calls this function,
# whose assertion aborted the coordinator now and then; a start/stop below would catch it only by luck.
addon=/opt/merak/node_modules/better-sqlite3/build/Release/better_sqlite3.node
if podman run --rm --entrypoint grep "localhost/merak/coordinator:$TAG" -q -a RemoveEnvironmentCleanupHook "$addon"; then
  fail "the coordinator's $addon calls node::RemoveEnvironmentCleanupHook: built with Node 24.19's ObjectWrap hook"
fi
podman run --rm --entrypoint test "localhost/merak/coordinator:$TAG" -s "$addon" || fail "no $addon in the coordinator image"

# ---- the underlay: a bridge, a namespace and a veth per container --------------------------------
ip link add "$P-br" type bridge
ip link set "$P-br" up
underlay() { # name index
  local ns=$P-$1
  ip netns add "$ns"
  ip link add "$P$1" type veth peer name eth0 netns "$ns"
  ip link set "$P$1" master "$P-br" up
  ip -n "$ns" addr add "$NET.$2/24" dev eth0
  ip -n "$ns" link set lo up
  ip -n "$ns" link set eth0 up
  # A vhost's OVS (userspace datapath) owns its eth0 and hands what arrives there to its kernel
  # through a tap, checksums unchecked: a TCP segment whose checksum the sender's veth left to an
  # offload never gets one and is dropped, so the agents' streams to the coordinator would hang.
  ip netns exec "$ns" ethtool -K eth0 tx off >/dev/null
}
underlay c 1
for i in "${VHOSTS[@]}"; do underlay "v$i" $((10 + i)); done

# ---- the coordinator ------------------------------------------------------------------------------
mkdir -p "$WORK/token" "$WORK/state"
head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$WORK/token/token"
chown 1000:1000 "$WORK/state" # the image's user
TOKEN=$(cat "$WORK/token/token")
t=$(now)
podman run -d --name "$P-coord" --network "ns:/run/netns/$P-c" \
  -v "$WORK/token:/etc/merak/token:ro" -v "$WORK/state:/var/lib/merak" "localhost/merak/coordinator:$TAG" >/dev/null
http_ok() { # namespace url: the body, or non-zero
  ip netns exec "$1" node -e 'fetch(process.argv[1]).then(async (r) => { const b = await r.text(); if (!r.ok) process.exit(1); process.stdout.write(b); }, () => process.exit(1))' "$2"
}
wait_for() { # seconds what command...
  local until=$((SECONDS + $1)) what=$2
  shift 2
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < until)) || fail "$what: not within ${until}s"
    sleep 0.2
  done
}
wait_for 60 "coordinator /readyz" http_ok "$P-c" "http://127.0.0.1:9002/readyz"
say "coordinator container: start -> ready in $(since "$t") s"

# ---- the vhosts -----------------------------------------------------------------------------------
t=$(now)
for i in "${VHOSTS[@]}"; do
  podman run -d --name "$P-v$i" --privileged --network "ns:/run/netns/$P-v$i" \
    -e "MERAK_TOKEN=$TOKEN" -e "MERAK_VHOST=$P-vhost-$i" -e "MERAK_COORDINATOR=$COORD_IP:40050" \
    -e MERAK_UNDERLAY_INTERFACE=eth0 "localhost/merak/vhost:$TAG" >/dev/null
done
for i in "${VHOSTS[@]}"; do
  wait_for 120 "vhost $i agent /readyz" http_ok "$P-v$i" "http://127.0.0.1:9001/readyz"
  say "vhost $i: container start -> agent ready in $(since "$t") s"
done

# /readyz and /metrics read inside a vhost container, as a probe would.
inside() { podman exec "$P-v0" node -e 'fetch(process.argv[1]).then(async (r) => { process.stdout.write(await r.text()); process.exit(r.ok ? 0 : 1); }, (e) => { console.error(String(e)); process.exit(1); })' "$1"; }
ready=$(inside http://127.0.0.1:9001/readyz) || fail "/readyz inside vhost 0: $ready"
say "vhost 0 /readyz: $(tr '\n' ' ' <<<"$ready")"
inside http://127.0.0.1:9001/metrics >"$WORK/metrics.txt" || fail "/metrics inside vhost 0"
grep -q '^merak_' "$WORK/metrics.txt" || fail "/metrics inside vhost 0 has no merak_ series: $(head -5 "$WORK/metrics.txt")"
say "vhost 0 /metrics: $(grep -c '^merak_' "$WORK/metrics.txt") merak_ samples"

cli() { ip netns exec "$P-c" node "$ROOT/lab/dist/cli/main.js" "$@" --coordinator 127.0.0.1:40050 --token-file "$WORK/token/token" --out "$WORK/report"; }
agents_up() { [[ $(cli agents | grep -c "^$P-vhost-[0-9] *yes") == 3 ]]; }
wait_for 60 "three agents registered" agents_up

# ---- a scenario and its ping test -----------------------------------------------------------------
cat >"$WORK/scenario.yaml" <<EOF
name: $P
seed: 1
provider: standalone
hosts: { names: [$P-vhost-0, $P-vhost-1, $P-vhost-2] }
vpcs:
  - name: vpc1
    cidr: 10.1.0.0/16
    subnets:
      - { name: subnet1, cidr: 10.1.0.0/16, gateway: 10.1.0.1, vms: 12 }
placement: { type: uniform }
test: { type: ping, count: 2, timeout_ms: 2000, converge_ms: 10000 }
EOF
t=$(now)
cli run "$WORK/scenario.yaml" >"$WORK/run.txt" 2>&1 || { cat "$WORK/run.txt"; fail "merak run"; }
say "scenario (12 VMs on 3 vhosts, ping test) in $(since "$t") s"
id=$(cli list | awk -v n="$P" '$2 == n { print $1 }')
[[ -n $id ]] || fail "scenario $P not listed"
show=$(cli show "$id")
grep -q '12 requested, 12 ready, 0 failed' <<<"$show" || fail "scenario $id: $show"
pings=$(cli test "$id") || fail "ping test again: $pings"
say "12 VMs ready; ping test: $(grep -h '^ping' <<<"$pings")"
cli delete "$id" >"$WORK/delete.txt" 2>&1 || { cat "$WORK/delete.txt"; fail "merak delete $id"; }

# ---- SIGTERM (and SIGINT): each exits 0 --------------------------------------------------------------
t=$(now)
for i in "${VHOSTS[@]}"; do podman stop -t 60 "$P-v$i" >/dev/null; done
podman stop -t 60 "$P-coord" >/dev/null
say "stopped with SIGTERM in $(since "$t") s"
for c in "$P-v0" "$P-v1" "$P-v2" "$P-coord"; do
  code=$(podman inspect --format '{{.State.ExitCode}}' "$c")
  [[ $code == 0 ]] || fail "$c exited $code on SIGTERM"
done
podman start "$P-coord" >/dev/null
wait_for 60 "coordinator /readyz after a restart" http_ok "$P-c" "http://127.0.0.1:9002/readyz"
podman kill --signal INT "$P-coord" >/dev/null
podman wait "$P-coord" >/dev/null
code=$(podman inspect --format '{{.State.ExitCode}}' "$P-coord")
[[ $code == 0 ]] || fail "$P-coord exited $code on SIGINT"
say "every container exited 0 (SIGTERM; the coordinator on SIGINT too)"

# ---- nothing left ---------------------------------------------------------------------------------
for c in "$P-v0" "$P-v1" "$P-v2" "$P-coord"; do podman rm "$c" >/dev/null; done
# Each veth explicitly: a namespace is destroyed asynchronously after its name is gone, and its end
# of a veth (with the pair) only then.
for ns in c v0 v1 v2; do
  ip link delete "$P$ns"
  ip netns delete "$P-$ns"
done
ip link delete "$P-br"
left=$( { podman ps -a --format '{{.Names}}' | grep "^$P-"; ip netns list | grep "^$P-"; ip -o link show | grep -E ": $P"; } || true)
[[ -z $left ]] || fail "left behind: $left"
say "passed; nothing left (containers, namespaces, links); images kept as the next build's cache"
