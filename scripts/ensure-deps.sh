#!/usr/bin/env bash
# Installs what Merak-TS needs when it is missing, then builds. Sourced by test.sh and demo.sh.
# Needs root: the emulation creates network namespaces and runs Open vSwitch.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ $(id -u) != 0 ]]; then
  echo "merak: this needs root (network namespaces, Open vSwitch). Run it as root." >&2
  exit 1
fi

# Debian packages: OVS (userspace datapath works without the kernel module), OVN (central: NB/SB
# schemas + ovn-northd; host: ovn-controller; the local emulation runs them itself, `--ovn`), ping,
# ethtool, iproute2, nsenter, chromium. One apt call for whatever is missing.
need=()
command -v ovs-vswitchd >/dev/null && command -v ovsdb-server >/dev/null || need+=(openvswitch-switch)
command -v ovn-northd >/dev/null && [[ -f /usr/share/ovn/ovn-nb.ovsschema ]] || need+=(ovn-central)
command -v ovn-controller >/dev/null || need+=(ovn-host)
command -v ping >/dev/null || need+=(iputils-ping)
command -v ethtool >/dev/null || need+=(ethtool)
command -v ip >/dev/null || need+=(iproute2)
command -v nsenter >/dev/null || need+=(util-linux)
# Headless Chromium renders the HTML report in its test (and a screenshot of it).
command -v chromium >/dev/null || need+=(chromium)
if ((${#need[@]})); then
  echo "merak: installing ${need[*]} (apt)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# npm dependencies, when missing or older than the lock file.
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "merak: installing npm dependencies"
  npm ci --no-audit --no-fund --loglevel=error
fi

# The native addon, the generated protobuf code and the TypeScript build (incremental; it also
# type-checks every test and test helper, tsconfig.tests.json, which emits nothing).
if [[ ! -f native/build/Release/merak_native.node || -n $(find native/src native/binding.gyp -newer native/build/Release/merak_native.node 2>/dev/null) ]]; then
  echo "merak: building the native addon"
  npm run build -w native --silent >/dev/null
fi
if [[ ! -d proto/gen || -n $(find proto/merak -name '*.proto' -newer proto/gen 2>/dev/null) ]]; then
  npm run generate -w proto --silent >/dev/null
  touch proto/gen
fi
npx tsc -b
