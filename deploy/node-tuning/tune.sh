#!/usr/bin/env bash
# Kernel settings for a node that hosts many vhosts (each: a network namespace, ovsdb-server,
# ovs-vswitchd, the agent; each VM: a network namespace and a veth pair). Raises, never lowers.
set -uo pipefail

raise() { # raise KEY VALUE: sets KEY to VALUE unless it is already at least that
  local key=$1 want=$2 path=/proc/sys/${1//.//} have
  have=$(<"$path") || { echo "node-tuning: $key: not on this kernel"; return 0; }
  if ((have >= want)); then
    echo "node-tuning: $key = $have (kept, >= $want)"
  elif echo "$want" >"$path"; then
    echo "node-tuning: $key = $want (was $have)"
  else
    echo "node-tuning: $key: cannot write" >&2
    return 1
  fi
}

rc=0
# inotify: every container's runtime and kubelet watches files; the default 128 instances per user
# run out at a few dozen pods per node ("too many open files" from kubelet, containerd or Node).
raise fs.inotify.max_user_instances 8192 || rc=1
raise fs.inotify.max_user_watches 524288 || rc=1
# Neighbour tables: one table for all network namespaces of the node, every VM namespace adds its
# gateway's and its peers' entries; past gc_thresh3 (default 1024) the kernel drops new neighbours
# ("neighbour table overflow") and VMs stop answering.
raise net.ipv4.neigh.default.gc_thresh1 16384 || rc=1
raise net.ipv4.neigh.default.gc_thresh2 65536 || rc=1
raise net.ipv4.neigh.default.gc_thresh3 131072 || rc=1
raise net.ipv6.neigh.default.gc_thresh1 16384 || rc=1
raise net.ipv6.neigh.default.gc_thresh2 65536 || rc=1
raise net.ipv6.neigh.default.gc_thresh3 131072 || rc=1
# Open files: the agent and ovs-vswitchd hold descriptors per VM; the vhost entrypoint raises its
# soft limit to the hard one, which the container runtime caps at fs.nr_open.
raise fs.file-max 4194304 || rc=1
raise fs.nr_open 1048576 || rc=1
# Processes and threads: each vhost runs three processes and some dozens of threads.
raise kernel.pid_max 4194304 || rc=1
raise kernel.threads-max 1048576 || rc=1
# The kernel datapath for the vhosts' Open vSwitch, when the node has the module (the vhost
# entrypoint falls back to the userspace datapath otherwise).
if [[ -d /sys/module/openvswitch ]]; then
  echo "node-tuning: openvswitch module loaded"
elif modprobe openvswitch 2>/dev/null; then
  echo "node-tuning: openvswitch module loaded by modprobe"
else
  echo "node-tuning: no openvswitch module on this node: vhosts use the userspace datapath"
fi
exit $rc
