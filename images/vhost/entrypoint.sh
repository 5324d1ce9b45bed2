#!/usr/bin/env bash
# The vhost's entrypoint: starts ovsdb-server and ovs-vswitchd, waits until OVSDB answers, then runs
# the agent (and, in OVN mode, ovn-controller), and supervises them. On SIGTERM it stops them in
# reverse order (ovn-controller, the agent, ovs-vswitchd, ovsdb-server) and exits 0; when any of them
# dies on its own it stops the others and exits non-zero (so Kubernetes restarts the container).
#
# It runs outside a container too: every path comes from the environment, with the container's
# defaults. Sourced (`source entrypoint.sh`), it only defines its functions, for tests.
# `entrypoint.sh ready` is the readiness check of the OVN overlay (see ready below).
#
# Environment (default):
#   OVS_RUNDIR (/var/run/openvswitch) OVS_DBDIR (/var/lib/openvswitch) OVS_LOGDIR (/var/log/openvswitch)
#   OVS_SYSCONFDIR (/etc) OVS_PKGDATADIR (/usr/share/openvswitch)   as Open vSwitch itself reads them
#   MERAK_DATAPATH (auto)           auto | system (kernel) | netdev (userspace)
#   MERAK_OVS_KMOD_DIR (/sys/module/openvswitch), MERAK_MODPROBE (modprobe)   the kernel-module probe
#   MERAK_AGENT_CMD (node --enable-source-maps /opt/merak/agent/dist/main.js)   split on blanks
#   MERAK_TOKEN_FILE (/etc/merak/token/token), else MERAK_TOKEN
#   MERAK_VHOST ($HOSTNAME: in a pod, its name)
#   MERAK_COORDINATOR, MERAK_ADVERTISE, MERAK_LISTEN, MERAK_HTTP, MERAK_BRIDGE, MERAK_UNDERLAY_IP,
#   MERAK_UNDERLAY_INTERFACE, MERAK_HOST_AGENT, MERAK_TLS_CA, MERAK_TLS_SERVER_NAME, MERAK_TLS_CERT,
#   MERAK_TLS_KEY                   each passed as the agent flag of the same name when set
#   MERAK_AGENT_ARGS                more agent flags, split on blanks
#   MERAK_OVS_TIMEOUT_S (30)        how long OVSDB and vswitchd may take to come up
#   MERAK_STOP_TIMEOUT_S (20)       how long each process may take to stop before SIGKILL
# OVN mode (deploy/overlays/ovn), on when MERAK_OVN_REMOTE is set:
#   MERAK_OVN_REMOTE                the OVN southbound database: tcp:HOST:PORT or unix:PATH (a comma-
#                                   separated list for a clustered SB); ovn-controller's ovn-remote
#   MERAK_OVN_ENCAP_TYPE (geneve)   geneve or vxlan
#   MERAK_OVN_ENCAP_IP ($MERAK_UNDERLAY_IP)   this chassis' tunnel endpoint
#   MERAK_OVN_BRIDGE (br-ovn)       OVN's integration bridge (br-int is the agent's standalone bridge)
set -uo pipefail

: "${OVS_RUNDIR:=/var/run/openvswitch}" "${OVS_DBDIR:=/var/lib/openvswitch}" "${OVS_LOGDIR:=/var/log/openvswitch}"
: "${OVS_SYSCONFDIR:=/etc}" "${OVS_PKGDATADIR:=/usr/share/openvswitch}"
export OVS_RUNDIR OVS_DBDIR OVS_LOGDIR OVS_SYSCONFDIR OVS_PKGDATADIR
: "${MERAK_DATAPATH:=auto}" "${MERAK_OVS_KMOD_DIR:=/sys/module/openvswitch}" "${MERAK_MODPROBE:=modprobe}"
: "${MERAK_AGENT_CMD:=node --enable-source-maps /opt/merak/agent/dist/main.js}" "${MERAK_TOKEN_FILE:=/etc/merak/token/token}"
: "${MERAK_OVS_TIMEOUT_S:=30}" "${MERAK_STOP_TIMEOUT_S:=20}"

# The placeholder the base manifests ship (deploy/base/kustomization.yaml): never a usable token.
TOKEN_PLACEHOLDER=REPLACE-ME
# The OVN overlay's placeholder for the central's address (deploy/overlays/ovn/ovn.env).
OVN_PLACEHOLDER=REPLACE-WITH

# One JSON line per event, shaped like the agent's pino lines (level 30 info, 40 warn, 50 error).
json_str() {
  local s=$1
  s=${s//\\/\\\\} s=${s//\"/\\\"} s=${s//$'\n'/\\n} s=${s//$'\t'/\\t} s=${s//$'\r'/\\r}
  printf '"%s"' "$s"
}
log() {
  local level=$1 msg=$2 line
  shift 2
  local now=${EPOCHREALTIME/./}
  line="{\"level\":$level,\"time\":${now:0:-3},\"name\":\"merak-vhost\",\"msg\":$(json_str "$msg")"
  while (($#)); do
    line+=",$(json_str "${1%%=*}"):$(json_str "${1#*=}")"
    shift
  done
  printf '%s}\n' "$line"
}

# Sleeps without a child process (nothing left behind when we are killed mid-wait).
exec {SLEEP_FD}<> <(:)
nap() { read -rt "$1" -u "$SLEEP_FD" || true; }

# Prints "<datapath> <reason>". The probe is the module's sysfs directory, then modprobe; both are
# injectable (MERAK_OVS_KMOD_DIR, MERAK_MODPROBE) so either branch can be exercised anywhere.
choose_datapath() {
  case $MERAK_DATAPATH in
    system | netdev) echo "$MERAK_DATAPATH forced by MERAK_DATAPATH"; return 0 ;;
    auto) ;;
    *) echo "invalid MERAK_DATAPATH '$MERAK_DATAPATH' (auto, system or netdev)"; return 1 ;;
  esac
  if [[ -d $MERAK_OVS_KMOD_DIR ]]; then
    echo "system the openvswitch kernel module is loaded ($MERAK_OVS_KMOD_DIR exists)"
    return 0
  fi
  local out
  if out=$($MERAK_MODPROBE openvswitch 2>&1); then
    echo "system '$MERAK_MODPROBE openvswitch' loaded the kernel module"
    return 0
  fi
  out=${out//$'\n'/ }
  echo "netdev no openvswitch kernel module ($MERAK_OVS_KMOD_DIR absent; '$MERAK_MODPROBE openvswitch' failed: ${out:-no output}): userspace datapath"
}

# The token's source, as agent flags in TOKEN_ARGS: --token-file PATH, or none when MERAK_TOKEN will do.
token_args() {
  local token source_name
  TOKEN_ARGS=()
  if [[ -r $MERAK_TOKEN_FILE ]]; then
    token=$(<"$MERAK_TOKEN_FILE")
    source_name=$MERAK_TOKEN_FILE
    TOKEN_ARGS=(--token-file "$MERAK_TOKEN_FILE")
  elif [[ -n ${MERAK_TOKEN:-} ]]; then
    token=$MERAK_TOKEN
    source_name=MERAK_TOKEN
  else
    TOKEN_ERROR="no token: $MERAK_TOKEN_FILE is not readable and MERAK_TOKEN is not set"
    return 1
  fi
  if [[ $token == "$TOKEN_PLACEHOLDER"* ]]; then
    TOKEN_ERROR="the token in $source_name is the manifests' placeholder: give the cluster its own token (docs/deployment.md, 'The token')"
    return 1
  fi
}

# PIDs of what we started, by name; stopped in reverse start order.
declare -A PIDS=()
# Control sockets of those asked to stop with `ovn-appctl -t CTL exit` instead of SIGTERM:
# ovn-controller's `exit` removes its Chassis from the SB (after SIGTERM it stays there).
declare -A EXIT_CTL=()
ORDER=()
STOPPING=0

started() { PIDS[$1]=$2; ORDER+=("$1"); log 30 "started $1" "pid=$2"; }

# Running, not a zombie waiting to be reaped (the state is the field after the command's ')').
alive() {
  local stat
  read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}

# SIGTERM (or `exit` on its EXIT_CTL; SIGTERM if that fails), then SIGKILL after MERAK_STOP_TIMEOUT_S; reaps it.
stop_one() {
  local name=$1 pid=${PIDS[$1]:-} i rc
  [[ -n $pid ]] || return 0
  unset "PIDS[$name]"
  if alive "$pid"; then
    if [[ -z ${EXIT_CTL[$name]:-} ]] || ! ovn-appctl -t "${EXIT_CTL[$name]}" exit >/dev/null 2>&1; then
      kill -TERM "$pid" 2>/dev/null
    fi
    for ((i = 0; i < MERAK_STOP_TIMEOUT_S * 10; i++)); do alive "$pid" || break; nap 0.1; done
    if alive "$pid"; then
      log 40 "$name did not stop in ${MERAK_STOP_TIMEOUT_S}s: SIGKILL" "pid=$pid"
      kill -KILL "$pid" 2>/dev/null
    fi
  fi
  wait "$pid" 2>/dev/null
  rc=$?
  log 30 "stopped $name" "pid=$pid" "code=$rc"
}

reverse_order() {
  local i out=''
  for ((i = ${#ORDER[@]} - 1; i >= 0; i--)); do out+="${out:+, then }${ORDER[i]}"; done
  printf '%s' "$out"
}

stop_all() {
  local i
  for ((i = ${#ORDER[@]} - 1; i >= 0; i--)); do stop_one "${ORDER[i]}"; done
}

die() {
  log 50 "$1"
  stop_all
  exit "${2:-1}"
}

# Waits until `check` succeeds; fails if `name`'s process dies, on SIGTERM, or after the timeout.
wait_for() {
  local name=$1 check=$2 i
  for ((i = 0; i < MERAK_OVS_TIMEOUT_S * 10; i++)); do
    ((STOPPING)) && return 1
    alive "${PIDS[$name]}" || die "$name exited while starting"
    eval "$check" >/dev/null 2>&1 && return 0
    nap 0.1
  done
  die "$name not ready after ${MERAK_OVS_TIMEOUT_S}s"
}

start_ovs() {
  local db=$OVS_DBDIR/conf.db schema=$OVS_PKGDATADIR/vswitch.ovsschema version
  DB_SOCKET=$OVS_RUNDIR/db.sock
  mkdir -p "$OVS_RUNDIR" "$OVS_DBDIR" "$OVS_LOGDIR" || die "cannot create the OVS directories"
  if [[ ! -f $db ]]; then
    ovsdb-tool create "$db" "$schema" || die "ovsdb-tool create $db failed"
  elif [[ $(ovsdb-tool needs-conversion "$db" "$schema") == yes ]]; then
    ovsdb-tool convert "$db" "$schema" || die "ovsdb-tool convert $db failed"
  fi
  ovsdb-server "$db" --remote="punix:$DB_SOCKET" --remote=db:Open_vSwitch,Open_vSwitch,manager_options \
    --pidfile="$OVS_RUNDIR/ovsdb-server.pid" --unixctl="$OVS_RUNDIR/ovsdb-server.ctl" &
  started ovsdb-server $!
  wait_for ovsdb-server "ovsdb-client --timeout=1 list-dbs unix:$DB_SOCKET" || return 1
  # The root row and its versions, as ovs-ctl writes them at start.
  version=$(ovs-vswitchd --version | sed -n 's/.*(Open vSwitch) \([^ ]*\).*/\1/p')
  ovs-vsctl --db="unix:$DB_SOCKET" --no-wait init -- set Open_vSwitch . \
    "ovs_version=\"$version\"" "db_version=\"$(ovsdb-tool schema-version "$schema")\"" \
    "external_ids:hostname=\"$VHOST\"" || die "ovs-vsctl init failed"
  log 30 "OVSDB answers" "socket=$DB_SOCKET" "ovs_version=$version"
  # No --mlockall: many vhosts share a node, and locked pages would make each cost all it ever touched.
  ovs-vswitchd "unix:$DB_SOCKET" --pidfile="$OVS_RUNDIR/ovs-vswitchd.pid" --unixctl="$OVS_RUNDIR/ovs-vswitchd.ctl" &
  started ovs-vswitchd $!
  wait_for ovs-vswitchd "ovs-appctl -t $OVS_RUNDIR/ovs-vswitchd.ctl version" || return 1
}

# OVN mode's settings, checked before anything starts (OVN_ERROR says why they are refused).
ovn_settings() {
  : "${MERAK_OVN_ENCAP_TYPE:=geneve}" "${MERAK_OVN_BRIDGE:=br-ovn}"
  OVN_ENCAP_IP=${MERAK_OVN_ENCAP_IP:-${MERAK_UNDERLAY_IP:-}}
  local endpoint='(tcp:[^,":\\[:space:]]+:[0-9]+|unix:[^,"\\[:space:]]+)'
  if [[ $MERAK_OVN_REMOTE == *"$OVN_PLACEHOLDER"* ]]; then
    OVN_ERROR="MERAK_OVN_REMOTE '$MERAK_OVN_REMOTE' is the manifests' placeholder: set your OVN central's address (docs/deployment.md, 'OVN on Kubernetes')"
  elif [[ ! $MERAK_OVN_REMOTE =~ ^$endpoint(,$endpoint)*$ ]]; then
    OVN_ERROR="invalid MERAK_OVN_REMOTE '$MERAK_OVN_REMOTE' (tcp:HOST:PORT or unix:PATH, comma-separated)"
  elif [[ $MERAK_OVN_ENCAP_TYPE != geneve && $MERAK_OVN_ENCAP_TYPE != vxlan ]]; then
    OVN_ERROR="invalid MERAK_OVN_ENCAP_TYPE '$MERAK_OVN_ENCAP_TYPE' (geneve or vxlan)"
  elif [[ ! $OVN_ENCAP_IP =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
    OVN_ERROR="OVN mode needs this chassis' tunnel endpoint: MERAK_OVN_ENCAP_IP or MERAK_UNDERLAY_IP ('$OVN_ENCAP_IP' is not an IPv4 address)"
  elif [[ ! $MERAK_OVN_BRIDGE =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$ ]]; then
    OVN_ERROR="invalid MERAK_OVN_BRIDGE '$MERAK_OVN_BRIDGE' (1-15 of A-Z a-z 0-9 _ . -)"
  elif ! command -v ovn-controller >/dev/null; then
    OVN_ERROR="OVN mode needs ovn-controller (Debian's ovn-host), which is not installed"
  else
    return 0
  fi
  return 1
}

# The chassis' settings in Open_vSwitch.external_ids, which ovn-controller reads (and re-reads).
ovn_external_ids() {
  OVN_EXTERNAL_IDS=(
    "external_ids:system-id=\"$VHOST\"" "external_ids:hostname=\"$VHOST\""
    "external_ids:ovn-remote=\"$MERAK_OVN_REMOTE\"" "external_ids:ovn-encap-type=$MERAK_OVN_ENCAP_TYPE"
    "external_ids:ovn-encap-ip=\"$OVN_ENCAP_IP\"" "external_ids:ovn-bridge=\"$MERAK_OVN_BRIDGE\""
    "external_ids:ovn-bridge-datapath-type=$DATAPATH"
  )
}

# ovn-controller 23.03 has no --unixctl: its control socket is $OVN_RUNDIR/ovn-controller.<pid>.ctl.
ovn_ctl() { printf '%s/ovn-controller.%s.ctl' "$OVS_RUNDIR" "$1"; }

# ovn-controller beside this vhost's OVS: every OVS_/OVN_ directory is the vhost's, so it finds
# <bridge>.mgmt in OVS_RUNDIR and puts its control socket there.
start_ovn_controller() {
  ovn_external_ids
  ovs-vsctl --db="unix:$DB_SOCKET" --no-wait set Open_vSwitch . "${OVN_EXTERNAL_IDS[@]}" || die "ovs-vsctl could not write the OVN settings"
  log 30 "OVN chassis settings written" "system-id=$VHOST" "ovn-remote=$MERAK_OVN_REMOTE" "ovn-encap-type=$MERAK_OVN_ENCAP_TYPE" \
    "ovn-encap-ip=$OVN_ENCAP_IP" "ovn-bridge=$MERAK_OVN_BRIDGE" "ovn-bridge-datapath-type=$DATAPATH"
  OVN_RUNDIR=$OVS_RUNDIR OVN_DBDIR=$OVS_DBDIR OVN_LOGDIR=$OVS_LOGDIR OVN_SYSCONFDIR=$OVS_SYSCONFDIR \
    ovn-controller "unix:$DB_SOCKET" --pidfile="$OVS_RUNDIR/ovn-controller.pid" --log-file="$OVS_LOGDIR/ovn-controller.log" &
  started ovn-controller $!
  EXIT_CTL[ovn-controller]=$(ovn_ctl $!)
  wait_for ovn-controller "ovn-appctl -t '${EXIT_CTL[ovn-controller]}' version" || return 1
  log 30 "ovn-controller answers" "control=${EXIT_CTL[ovn-controller]}"
}

# Agent flags passed through when their variable (MERAK_ + the flag in capitals, - as _) is set.
PASSED_FLAGS=(coordinator advertise listen http bridge underlay-ip underlay-interface host-agent tls-ca tls-server-name tls-cert tls-key)

agent_args() {
  local flag var
  AGENT_ARGS=(--vhost "$VHOST" --ovsdb "$DB_SOCKET" --datapath-type "$DATAPATH")
  for flag in "${PASSED_FLAGS[@]}"; do
    var=MERAK_${flag//-/_}
    var=${var^^}
    [[ -n ${!var:-} ]] && AGENT_ARGS+=("--$flag" "${!var}")
  done
  local -a extra=()
  read -ra extra <<<"${MERAK_AGENT_ARGS:-}"
  AGENT_ARGS+=("${extra[@]}")
}

main() {
  trap 'STOPPING=1' TERM INT
  VHOST=${MERAK_VHOST:-$HOSTNAME}
  local choice rc died
  choice=$(choose_datapath) || die "$choice" 2
  DATAPATH=${choice%% *}
  log 30 "datapath: $DATAPATH" "datapath=$DATAPATH" "reason=${choice#* }"
  token_args || die "$TOKEN_ERROR" 2
  if [[ -n ${MERAK_OVN_REMOTE:-} ]]; then
    ovn_settings || die "$OVN_ERROR" 2
  fi
  # Each VM holds descriptors in the agent and in vswitchd: the soft limit goes up to the hard one.
  ulimit -n "$(ulimit -Hn)" 2>/dev/null
  log 30 "open files limit" "nofile=$(ulimit -n)"
  if ! start_ovs; then
    log 30 "SIGTERM while starting: stopping what was started"
    stop_all
    exit 0
  fi
  agent_args
  # shellcheck disable=SC2086 # MERAK_AGENT_CMD is a command line, split on blanks on purpose
  $MERAK_AGENT_CMD "${AGENT_ARGS[@]}" "${TOKEN_ARGS[@]}" &
  started agent $!
  # After the agent has set up the underlay (it moves the encap IP's interface into br-phy, then
  # listens): the chassis' tunnels start from the address where it will stay.
  if [[ -n ${MERAK_OVN_REMOTE:-} ]] && ! { wait_for agent agent_listens && start_ovn_controller; }; then
    log 30 "SIGTERM while starting: stopping what was started"
    stop_all
    exit 0
  fi

  while :; do
    died=''
    wait -n -p died "${PIDS[@]}"
    rc=$?
    if ((STOPPING)); then
      log 30 "SIGTERM: stopping $(reverse_order)"
      stop_all
      exit 0
    fi
    [[ -n $died ]] || continue
    local name
    for name in "${!PIDS[@]}"; do [[ ${PIDS[$name]} == "$died" ]] && break; done
    unset "PIDS[$name]"
    log 50 "$name exited on its own: stopping the rest" "pid=$died" "code=$rc"
    stop_all
    exit $((rc == 0 ? 1 : rc))
  done
}

# The agent listens on its HTTP address once its underlay and bridge are set up.
agent_listens() {
  local http=${MERAK_HTTP:-0.0.0.0:9001} fd
  if [[ $http == unix:* ]]; then
    [[ -S ${http#unix:} ]]
    return
  fi
  { exec {fd}<>"/dev/tcp/127.0.0.1/${http##*:}"; } 2>/dev/null || return 1
  exec {fd}>&-
}

# `entrypoint.sh ready`: the OVN overlay's readinessProbe (bash only: the image has no curl). Ready
# when the agent's /readyz answers 200 on its HTTP port (MERAK_HTTP's, on 127.0.0.1) and, in OVN mode,
# ovn-controller is connected to the southbound database. Prints each check; exit 0 when all pass.
ready() {
  local http=${MERAK_HTTP:-0.0.0.0:9001} status='' line body='' pid state fd
  if [[ $http == unix:* ]]; then
    echo "agent: MERAK_HTTP is a unix socket ($http): this check needs HOST:PORT"
    return 1
  fi
  if ! { exec {fd}<>"/dev/tcp/127.0.0.1/${http##*:}"; } 2>/dev/null; then
    echo "agent: nothing listens on 127.0.0.1:${http##*:}"
    return 1
  fi
  printf 'GET /readyz HTTP/1.0\r\nHost: localhost\r\n\r\n' >&"$fd"
  read -r -t 5 -u "$fd" status
  while read -r -t 5 -u "$fd" line && [[ -n ${line%$'\r'} ]]; do :; done
  while read -r -t 5 -u "$fd" line; do body+="${body:+; }$line"; done
  exec {fd}>&-
  status=${status%$'\r'}
  echo "agent: ${status:-no answer}: $body"
  [[ $status == 'HTTP/1.'?' 200 '* ]] || return 1
  [[ -n ${MERAK_OVN_REMOTE:-} ]] || return 0
  pid=$(cat "$OVS_RUNDIR/ovn-controller.pid" 2>/dev/null)
  state=$(ovn-appctl -t "$(ovn_ctl "${pid:-none}")" connection-status 2>&1)
  echo "ovn-controller: ${state//$'\n'/ }"
  [[ $state == connected ]]
}

# Run, unless sourced (`return` only works in a sourced file or a function).
if ! (return 0 2>/dev/null); then
  if [[ ${1:-} == ready ]]; then
    ready
    exit
  fi
  main "$@"
fi
