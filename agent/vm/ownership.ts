// The mark that says an OVS row or a veth is this agent's, and which VM it belongs to: the
// external_ids keys on its Interfaces, Ports and bridges, and the ifalias on a VM's outer veth
// end. The only place the format is written: the executor, the vswitch's owner mark, spec
// validation, the overlay and the local emulation's clean-up (lab/local/recorded-vms.ts) read it here.

/** external_ids keys the agent owns on each VM's OVS Interface. */
export const EXT = {
  vhost: 'merak-vhost',
  vmId: 'vm-id',
  vmName: 'vm-name',
  ifaceId: 'iface-id',
  attachedMac: 'attached-mac',
  ip: 'merak-ip',
  gateway: 'merak-gateway',
  mtu: 'merak-mtu',
  portKind: 'merak-port-kind',
  vni: 'merak-vni',
  routes: 'merak-routes',
  // Alcor mode: what deleting the VM's port in Alcor needs, and what makes a resent create the same VM.
  alcorUrl: 'merak-alcor-url',
  alcorProject: 'merak-alcor-project',
  alcorTenant: 'merak-alcor-tenant',
  alcorNetwork: 'merak-alcor-network',
  alcorSubnet: 'merak-alcor-subnet',
  alcorHost: 'merak-alcor-host',
  // OVN mode: the bridge the port is on (OVN's integration bridge); its presence marks an OVN VM.
  ovnBridge: 'merak-ovn-bridge',
} as const;

/** external_ids key on every row the agent makes (bridges, ports, VM interfaces): the vhost that owns it. */
export const OWNER_KEY = EXT.vhost;

/** Every key the agent writes starts with this, besides the unprefixed ones of EXT. */
const PREFIX = 'merak-';
const AGENT_KEYS: ReadonlySet<string> = new Set(Object.values(EXT));

/** The external_ids that mark a row as made by `vhost`'s agent. */
export function ownerMark(vhost: string): Record<string, string> {
  return { [OWNER_KEY]: vhost };
}

/** The external_ids of the interface of VM `vmId` of `vhost` (what to look it up by). */
export function vmMark(vhost: string, vmId: string): Record<string, string> {
  return { [EXT.vmId]: vmId, [OWNER_KEY]: vhost };
}

/** The row is a VM interface `vhost`'s agent made. */
export function isVmOf(externalIds: Readonly<Record<string, string>>, vhost: string): boolean {
  return externalIds[OWNER_KEY] === vhost && externalIds[EXT.vmId] !== undefined;
}

/** The VM (namespace) name a row of `vhost`'s agent records; undefined when it records none or is not its. */
export function recordedVmName(externalIds: Readonly<Record<string, string>>, vhost: string): string | undefined {
  return externalIds[OWNER_KEY] === vhost ? externalIds[EXT.vmName] : undefined;
}

/** A key of the agent's own (the `merak-` ones and those of EXT): a caller may not set it. */
export function isAgentKey(key: string): boolean {
  return key.startsWith(PREFIX) || AGENT_KEYS.has(key);
}

/** The ifalias on a VM's outer veth end: which vhost made it for which VM (id and namespace). */
export function vethAlias(vhost: string, vm: { readonly id: string; readonly name: string }): string {
  return `merak vhost=${vhost} vm=${vm.id} ns=${vm.name}`;
}

/** The VM an ifalias names, when `vhost` made it; undefined for anything else. */
export function parseVethAlias(text: string | undefined, vhost: string): { id: string; name: string } | undefined {
  const m = /^merak vhost=(\S+) vm=(\S+) ns=(\S+)$/.exec(text ?? '');
  return m && m[1] === vhost ? { id: m[2]!, name: m[3]! } : undefined;
}
