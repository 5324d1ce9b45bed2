// How a VM is recorded in OVSDB: the external_ids the agent writes on its Interface, and the spec
// read back from them (so list, delete and a resent create read OVSDB, never memory).
import { EXT, isVmOf, ownerMark, vmMark } from './ownership.js';
import { DEFAULT_OVN_TIMEOUT_MS, type PortKind, type VmRoute, type VmSpec } from './spec.js';

/** An Interface row as the executor needs it. */
export interface VmInterfaceRow {
  readonly name: string;
  readonly ofport: number;
  readonly externalIds: Readonly<Record<string, string>>;
}

/** What the executor needs from OVSDB besides port changes. */
export interface VmInterfaceStore {
  /** This vhost's VM interfaces (its owner mark and a vm-id on them). */
  list(): Promise<VmInterfaceRow[]>;
  /** The interface of one VM, by vm-id. */
  find(vmId: string): Promise<VmInterfaceRow | undefined>;
}

/** Interfaces by their external_ids (the vswitch: it knows rows, not VMs). */
export interface InterfaceSource {
  interfacesMarked(match: Readonly<Record<string, string>>): Promise<VmInterfaceRow[]>;
}

/** `vhost`'s VM interfaces in OVSDB: those its owner mark and a vm-id are on. */
export function vmInterfaces(source: InterfaceSource, vhost: string): VmInterfaceStore {
  return {
    list: async () => (await source.interfacesMarked(ownerMark(vhost))).filter((row) => isVmOf(row.externalIds, vhost)),
    find: async (vmId) => (await source.interfacesMarked(vmMark(vhost, vmId)))[0],
  };
}

export function externalIdsOf(vhost: string, s: VmSpec, ovnBridge: string | undefined): Record<string, string> {
  const ids: Record<string, string> = {
    ...s.externalIds,
    [EXT.vhost]: vhost,
    [EXT.vmId]: s.id,
    [EXT.vmName]: s.name,
    [EXT.attachedMac]: s.mac,
    [EXT.ip]: `${s.ip}/${s.prefixLength}`,
    [EXT.mtu]: String(s.mtu),
    [EXT.portKind]: s.portKind,
  };
  if (s.gateway) ids[EXT.gateway] = s.gateway;
  if (s.vni !== 0) ids[EXT.vni] = String(s.vni);
  if (s.routes.length > 0) ids[EXT.routes] = formatRoutes(s.routes);
  if (s.ifaceId) ids[EXT.ifaceId] = s.ifaceId;
  if (ovnBridge !== undefined) ids[EXT.ovnBridge] = ovnBridge;
  if (s.alcor) {
    // The port's id is the interface id other controllers (Alcor's host agent) bind by.
    Object.assign(ids, {
      [EXT.ifaceId]: s.alcor.portId, [EXT.alcorUrl]: s.alcor.portUrl, [EXT.alcorProject]: s.alcor.projectId, [EXT.alcorTenant]: s.alcor.tenantId,
      [EXT.alcorNetwork]: s.alcor.networkId, [EXT.alcorSubnet]: s.alcor.subnetId, [EXT.alcorHost]: s.alcor.hostId,
    });
  }
  return ids;
}

/** The spec a VM was created with, as recorded in its Interface's external_ids. */
export function specOf(row: VmInterfaceRow): VmSpec {
  const e = row.externalIds;
  const [ip = '', prefix = '0'] = (e[EXT.ip] ?? '').split('/');
  const extra: Record<string, string> = {};
  for (const [k, v] of Object.entries(e)) if (!(Object.values(EXT) as string[]).includes(k)) extra[k] = v;
  return {
    id: e[EXT.vmId] ?? '', name: e[EXT.vmName] ?? '', ip, prefixLength: Number(prefix), gateway: e[EXT.gateway],
    mac: e[EXT.attachedMac] ?? '', mtu: Number(e[EXT.mtu] ?? 1500), portKind: (e[EXT.portKind] as PortKind | undefined) ?? 'veth',
    portName: row.name, ifaceId: e[EXT.ifaceId], externalIds: extra, vni: Number(e[EXT.vni] ?? 0), routes: parseRoutes(e[EXT.routes] ?? ''),
    alcor: e[EXT.alcorUrl] === undefined ? undefined : {
      portUrl: e[EXT.alcorUrl], projectId: e[EXT.alcorProject] ?? '', tenantId: e[EXT.alcorTenant] ?? '', networkId: e[EXT.alcorNetwork] ?? '',
      subnetId: e[EXT.alcorSubnet] ?? '', securityGroupIds: [], portId: e[EXT.ifaceId] ?? '', hostId: e[EXT.alcorHost] ?? '', timeoutMs: 20_000, retries: 3,
      awaitGoalState: false,
    },
    ovn: e[EXT.ovnBridge] === undefined ? undefined : { timeoutMs: DEFAULT_OVN_TIMEOUT_MS },
  };
}

/** Routes as one external_ids value: "10.1.0.0/16,10.9.0.0/16>10.1.0.254" ('>' = via). */
function formatRoutes(routes: VmSpec['routes']): string {
  return routes.map((r) => `${r.destination}/${r.prefixLength}${r.via ? `>${r.via}` : ''}`).join(',');
}

function parseRoutes(text: string): VmRoute[] {
  if (text === '') return [];
  return text.split(',').map((item) => {
    const [cidr = '', via] = item.split('>');
    const [destination = '', len = '0'] = cidr.split('/');
    return { destination, prefixLength: Number(len), via };
  });
}
