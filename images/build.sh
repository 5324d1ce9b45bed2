#!/usr/bin/env bash
# Builds the vhost and coordinator images from the repository: with Docker where a Docker engine
# answers, else with podman (Debian's podman, buildah, runc installed when missing). With podman and
# no registry the Node base images are local stand-ins (a debootstrap Debian, Node from the npm
# registry: images/base/Containerfile.node), made once and kept. docs/images.md has the details.
#
#   images/build.sh                      both images, tagged merak/<name>:<version>
#   images/build.sh --save DIR           and each written to DIR as an OCI archive (no registry needed)
#   images/build.sh --only vhost --no-cache --tag 0.1.0-dev
#
# Options:
#   --tag TAG         image tag (default: the version in package.json)
#   --only NAME       vhost or coordinator (default both)
#   --save DIR        write DIR/merak-<name>-<tag>.oci.tar (podman: OCI archive; docker: docker save)
#   --no-cache        build every step again
#   --base registry|local   where node:<version>-bookworm(-slim) come from (default: registry with
#                     docker, local with podman)
#   --engine docker|podman  (default: docker if its engine answers, else podman; or MERAK_IMAGE_ENGINE)
# Prints one line per image: name, seconds, size in bytes ("built merak/vhost:0.1.0 128 s 562000000 bytes").
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$ROOT/images/lib.sh"

tag=$(node -p 'require(process.argv[1]).version' "$ROOT/package.json" 2>/dev/null || echo 0.1.0)
only='' save='' nocache=() base='' engine=''
while (($#)); do
  case $1 in
    --tag) tag=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --save) save=$2; shift 2 ;;
    --no-cache) nocache=(--no-cache); shift ;;
    --base) base=$2; shift 2 ;;
    --engine) engine=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) images_die "unknown option $1 (--help)" ;;
  esac
done
case $only in '' ) names=(vhost coordinator) ;; vhost | coordinator) names=("$only") ;; *) images_die "--only: vhost or coordinator, not '$only'" ;; esac
engine=${engine:-$(images_engine)}
[[ $engine == docker || $engine == podman ]] || images_die "--engine: docker or podman, not '$engine'"
[[ -z $base ]] && { [[ $engine == docker ]] && base=registry || base=local; }
[[ $base == registry || $base == local ]] || images_die "--base: registry or local, not '$base'"

work=$(mktemp -d /tmp/merak-images-XXXXXX)
trap 'rm -rf "$work"' EXIT

args=(--build-arg "NODE_VERSION=$NODE_VERSION" --build-arg "VERSION=$tag" --build-arg "REVISION=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)"
  # Builders that build every stage (see images/vhost/Dockerfile) need an image for aca-with.
  --build-arg ACA_IMAGE=scratch "${nocache[@]}")
if [[ $engine == podman ]]; then
  images_install_podman
  images_podman_conf "$work"
  prefix=localhost/
  # --pull=never: only local images (the stand-ins, or images loaded before); --skip-unused-stages=false:
  # Debian's buildah 1.28 wrongly skips the stage `FROM aca-${ACA}` selects ("aca-without: image not known").
  args+=(--layers --skip-unused-stages=false --network host)
else
  prefix=''
fi
if [[ $base == local ]]; then
  [[ $engine == podman ]] || images_die "--base local is made with podman (docker: tag your own node:$NODE_VERSION-$DEBIAN_SUITE(-slim) images; docs/images.md)"
  images_local_base "$work" podman
  args+=(--build-arg "BUILD_IMAGE=$MERAK_BASE_BUILD" --build-arg "RUNTIME_IMAGE=$MERAK_BASE_RUNTIME")
  [[ $engine == podman ]] && args+=(--pull=never)
elif [[ $engine == podman ]]; then
  args+=(--pull=missing)
fi

[[ -n $save ]] && mkdir -p "$save"
for name in "${names[@]}"; do
  image=${prefix}merak/$name:$tag start=$EPOCHREALTIME
  images_say "building $image with $engine (log: $work/$name.log while it runs)"
  if ! "$engine" build "${args[@]}" -f "$ROOT/images/$name/Dockerfile" -t "$image" "$ROOT" >"$work/$name.log" 2>&1; then
    tail -40 "$work/$name.log" >&2
    images_die "building $image failed (the last lines above)"
  fi
  secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
  size=$("$engine" image inspect --format '{{.Size}}' "$image")
  echo "built $image $secs s $size bytes"
  if [[ -n $save ]]; then
    out=$save/merak-$name-$tag.oci.tar
    rm -f "$out"
    if [[ $engine == podman ]]; then podman save -q --format oci-archive -o "$out" "$image"; else docker save -o "$out" "$image"; fi
    echo "saved $image $out $(stat -c %s "$out") bytes"
  fi
done
