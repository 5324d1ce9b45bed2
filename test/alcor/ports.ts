// Port manager (NodePort 30006), Alcor's REST API and DPM's push (docs/alcor.md). A create checks every
// reference first (VPC, subnets, SGs, node), then allocates IPs and a MAC, then stores — so a
// failure at any point changes nothing (PM rolls its allocations back too). A bound port is
// pushed (bind hook or GoalState) before the answer, and its status is written only afterwards.
import { randomUUID } from 'node:crypto';
import type { FixedIp, JsonObject, JsonValue, NodeInfo, PortEntity } from './entities.js';
import { AlcorHttpError, NO_MESSAGE } from './errors.js';
import type { Ipv4Range } from './ip-allocator.js';
import { nodesNamed } from './nodes.js';
import { queryFilter, selectFields } from './query-filter.js';
import { isObject, readArray, readBool, readInt, readObject, readString, readStringArray, requestObject } from './request-fields.js';
import { json, type Route } from './routes.js';
import { ensureDefaultSecurityGroup } from './security-groups.js';
import type { AlcorState, PortBinding } from './state.js';

/** The gateway port's owner; such ports are left out of the subnet port count (quirk 5). */
export const GATEWAY_OWNER = 'network:router_interface';

const VIF_TYPES = new Set(['ovs', 'macvtap', 'hw_veb', 'hostdev_physical', 'vhostuser', 'distributed', 'other']);
const VNIC_TYPES = new Set(['normal', 'macvtap', 'direct', 'baremetal', 'directphysical']);
const IP_ALLOCATIONS = new Set(['deferred', 'immediate', 'none']);
/** RestParameterValidator.checkMacAddress, a whole-string match (Java `String.matches`). */
const MAC_FORMAT = /^([A-Fa-f0-9]{2}[-,:]){5}[A-Fa-f0-9]{2}$/;
const IPV4_FORMAT = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
/** `alcor.vif_type` in K8S/port_manager.yaml. */
const DEFAULT_VIF_TYPE = 'ovs';

type FieldKind = 'string' | 'bool' | 'int' | 'strings' | 'fixedIps' | 'object' | 'pairs' | 'dhcpOpts';

/** PortEntity's keys in the order Jackson writes them, with their Java types. */
const PORT_FIELDS: ReadonlyArray<readonly [keyof PortEntity, FieldKind]> = [
  ['project_id', 'string'], ['tenant_id', 'string'], ['id', 'string'], ['name', 'string'], ['description', 'string'],
  ['network_id', 'string'], ['admin_state_up', 'bool'], ['mac_address', 'string'], ['veth_name', 'string'],
  ['fast_path', 'bool'], ['device_id', 'string'], ['device_owner', 'string'], ['status', 'string'],
  ['fixed_ips', 'fixedIps'], ['allowed_address_pairs', 'pairs'], ['extra_dhcp_opts', 'dhcpOpts'],
  ['security_groups', 'strings'], ['binding:host_id', 'string'], ['binding:profile', 'object'],
  ['binding:vif_details', 'object'], ['binding:vif_type', 'string'], ['binding:vnic_type', 'string'],
  ['network_ns', 'string'], ['dns_name', 'string'], ['dns_domain', 'string'], ['dns_assignment', 'object'],
  ['create_at', 'string'], ['update_at', 'string'], ['ip_allocation', 'string'], ['port_security_enabled', 'bool'],
  ['qos_network_policy_id', 'string'], ['qos_policy_id', 'string'], ['revision_number', 'int'],
  ['resource_request', 'object'], ['tags', 'strings'], ['uplink_status_propagation', 'bool'], ['mac_learning_enabled', 'bool'],
];
const PORT_KEYS: ReadonlySet<string> = new Set(PORT_FIELDS.map(([k]) => k));

/**
 * Setters that turn an explicit JSON null into "": "" then counts as
 * bound (and fails the node lookup) or fails the vif/vnic type check.
 */
const NULL_TO_EMPTY: ReadonlySet<string> = new Set(['binding:host_id', 'binding:vif_type', 'binding:vnic_type']);

function nestedItems(list: JsonValue[], keys: readonly string[]): JsonValue[] {
  // Nested classes are not NON_ABSENT: their null fields are written.
  return list.map((item) => {
    const o = isObject(item) ? item : {};
    return Object.fromEntries(keys.map((k) => [k, o[k] ?? null]));
  });
}

function readFixedIps(req: JsonObject): FixedIp[] | null | undefined {
  const list = readArray(req, 'fixed_ips');
  if (!list) return list;
  return list.map((item) => {
    const o = isObject(item) ? item : {};
    return { subnet_id: readString(o, 'subnet_id') ?? null, ip_address: readString(o, 'ip_address') ?? null };
  });
}

/** The request's port as Jackson binds it: keys that are absent or null stay unset. */
function readPort(req: JsonObject): PortEntity {
  const port: Record<string, unknown> = {};
  for (const [key, kind] of PORT_FIELDS) {
    let value: unknown;
    switch (kind) {
      case 'string': value = readString(req, key); break;
      case 'bool': value = readBool(req, key); break;
      case 'int': value = readInt(req, key); break;
      case 'strings': value = readStringArray(req, key); break;
      case 'fixedIps': value = readFixedIps(req); break;
      case 'object': value = readObject(req, key); break;
      case 'pairs':
      case 'dhcpOpts': value = readArray(req, key); break;
    }
    if (kind === 'pairs' && Array.isArray(value)) value = nestedItems(value, ['ip_address', 'mac_address']);
    if (kind === 'dhcpOpts' && Array.isArray(value)) value = nestedItems(value, ['ip_version', 'opt_name', 'opt_value']);
    if (value === null && NULL_TO_EMPTY.has(key)) value = '';
    if (value !== undefined && value !== null) port[key] = value;
  }
  return port as PortEntity;
}

/** The same port with its keys in PortEntity's order. */
function ordered(port: PortEntity): PortEntity {
  const out: Record<string, unknown> = {};
  for (const [key] of PORT_FIELDS) if (port[key] !== undefined) out[key] = port[key];
  return out as PortEntity;
}

/** RestParameterValidator.checkPort: 412s, in Alcor's order. */
function checkPort(port: PortEntity): void {
  if (port.mac_address !== undefined && !MAC_FORMAT.test(port.mac_address)) throw new AlcorHttpError(412, 'Mac address invalid');
  for (const ip of port.fixed_ips ?? []) {
    if (ip.subnet_id === null && ip.ip_address === null) throw new AlcorHttpError(412, 'Fixed ips invalid');
    if (ip.subnet_id === '') throw new AlcorHttpError(412, 'Fixed ips invalid');
    if (ip.ip_address !== null && !IPV4_FORMAT.test(ip.ip_address)) throw new AlcorHttpError(412, 'Fixed ips invalid');
  }
  if (port['binding:vif_type'] !== undefined && !VIF_TYPES.has(port['binding:vif_type'])) throw new AlcorHttpError(412, 'Vif type invalid');
  if (port['binding:vnic_type'] !== undefined && !VNIC_TYPES.has(port['binding:vnic_type'])) throw new AlcorHttpError(412, 'Vnic type invalid');
  if (port.ip_allocation !== undefined && !IP_ALLOCATIONS.has(port.ip_allocation)) throw new AlcorHttpError(412, 'Ip allocation invalid');
}

/** The port's node: exactly one node named `binding:host_id` (PM/processor/NodeProcessor.java). */
function resolveNode(state: AlcorState, port: PortEntity): NodeInfo | undefined {
  const hostId = port['binding:host_id'];
  if (hostId === undefined) return undefined;
  const nodes = nodesNamed(state, hostId);
  if (nodes.length === 0) throw new AlcorHttpError(500, 'Get node information exception');
  if (nodes.length > 1) throw new AlcorHttpError(412, 'Multiple Node Infos Have Same Node Name');
  return nodes[0];
}

function checkSecurityGroups(state: AlcorState, ids: readonly string[] | undefined): void {
  for (const id of ids ?? []) if (!state.securityGroups.has(id)) throw new AlcorHttpError(500, 'Security group entity not found');
}

/** A fixed IP to allocate: from `range`, exactly `ip` or (undefined) the lowest free one. */
interface IpRequest {
  readonly index: number;
  readonly range: Ipv4Range | undefined; // undefined: the first VPC range with room, at allocation time
  readonly ip: string | undefined;
}

const ipAllocError = (): AlcorHttpError => new AlcorHttpError(500, 'Allocate ip address error');

/** Checks each fixed_ips item and says where its address comes from. */
function planFixedIps(state: AlcorState, vpcId: string, fixedIps: readonly FixedIp[] | undefined): IpRequest[] {
  if (fixedIps === undefined) return [{ index: 0, range: undefined, ip: undefined }];
  return fixedIps.map((item, index) => {
    if (item.subnet_id !== null) {
      if (!state.subnets.has(item.subnet_id)) throw new AlcorHttpError(500, 'Subnet entity not found');
      const range = state.ranges.get(item.subnet_id);
      if (!range) throw ipAllocError();
      if (item.ip_address !== null && !range.contains(item.ip_address)) throw ipAllocError();
      return { index, range, ip: item.ip_address ?? undefined };
    }
    // Only an address: searched in the VPC's ranges, the subnet is inferred.
    const range = vpcRanges(state, vpcId).find((r) => r.contains(item.ip_address!));
    if (!range) throw ipAllocError();
    return { index, range, ip: item.ip_address! };
  });
}

function vpcRanges(state: AlcorState, vpcId: string): Ipv4Range[] {
  return [...state.ranges.values()].filter((r) => r.vpcId === vpcId);
}

/** Undo log for one request's allocations. */
class Allocations {
  private readonly ips: Array<{ range: Ipv4Range; ip: string }> = [];
  private readonly macs: string[] = [];

  constructor(private readonly state: AlcorState) {}

  ip(req: IpRequest, vpcId: string): { subnetId: string; ip: string; auto: boolean } {
    if (req.ip !== undefined) {
      // An address another port already holds (quirk 7) is not this request's to give back.
      if (!req.range!.isAllocated(req.ip)) this.ips.push({ range: req.range!, ip: req.ip });
      req.range!.allocate(req.ip);
      return { subnetId: req.range!.subnetId, ip: req.ip, auto: false };
    }
    // No fixed_ips at all: the first VPC range with room (FixedIpsProcessor, IpAddrRangeRepo).
    const range = req.range ?? vpcRanges(this.state, vpcId).find((r) => r.hasFree);
    const ip = range?.allocateLowest();
    if (!range || ip === undefined) throw ipAllocError(); // IPM 412 IpAddrNotEnough → PM 500
    this.ips.push({ range, ip });
    return { subnetId: range.subnetId, ip, auto: true };
  }

  mac(given: string | undefined): string {
    if (given !== undefined) {
      if (!this.state.macs.reserve(given)) throw new AlcorHttpError(500, 'Allocate mac address error'); // MAC manager 400 → PM 500
      this.macs.push(given);
      return given;
    }
    const mac = this.state.macs.allocate();
    if (mac === undefined) throw new AlcorHttpError(500, 'Allocate mac address error');
    this.macs.push(mac);
    return mac;
  }

  rollback(): void {
    for (const { range, ip } of this.ips) range.release(ip);
    for (const mac of this.macs) this.state.macs.release(mac);
  }
}

function indexSubnetPorts(state: AlcorState, port: PortEntity): void {
  if (port.device_owner === GATEWAY_OWNER) return;
  for (const ip of port.fixed_ips ?? []) state.subnetPorts.add(`${ip.subnet_id}/${port.id}`);
}

function unindexSubnetPorts(state: AlcorState, port: PortEntity): void {
  for (const ip of port.fixed_ips ?? []) state.subnetPorts.delete(`${ip.subnet_id}/${port.id}`);
}

function bindSecurityGroups(state: AlcorState, portId: string, ids: readonly string[]): void {
  for (const id of ids) {
    let ports = state.sgBindings.get(id);
    if (!ports) state.sgBindings.set(id, (ports = new Set()));
    ports.add(portId);
  }
}

function unbindSecurityGroups(state: AlcorState, portId: string): void {
  for (const ports of state.sgBindings.values()) ports.delete(portId);
}

/** Pushes a bound port (the hook) and records the status a later GET shows (quirk 8). */
async function push(state: AlcorState, binding: PortBinding): Promise<void> {
  let status: 'ACTIVE' | 'FAILED' = 'ACTIVE';
  if (state.bindHook) {
    try {
      const result = await state.bindHook(structuredClone(binding));
      if (result && result.status === 'FAILED') status = 'FAILED';
    } catch (e) {
      status = 'FAILED';
      state.logger?.warn({ err: e, port: binding.port.id, node: binding.node.node_name }, 'bind hook failed: port marked FAILED');
    }
  }
  if (binding.request === 'delete') return;
  const stored = state.ports.get(binding.port.id!);
  if (stored) stored.status = status;
}

/**
 * Pushes one request's bound ports: through the bind hook one by one when a test set one, else
 * as one GoalState batch (all hosts in parallel) when the server pushes, else just ACTIVE.
 */
async function pushBindings(state: AlcorState, bindings: readonly PortBinding[]): Promise<void> {
  if (bindings.length === 0) return;
  if (state.bindHook || !state.goalState) {
    await Promise.all(bindings.map((b) => push(state, b)));
    return;
  }
  const statuses = await state.goalState.pushPorts(bindings);
  for (const b of bindings) {
    if (b.request === 'delete') continue;
    const stored = state.ports.get(b.port.id!);
    if (stored) stored.status = statuses.get(b.port.id!) ?? 'ACTIVE';
  }
}

interface Prepared { port: PortEntity; node: NodeInfo | undefined; explicitSgs: boolean; autoIps: number[]; autoMac: boolean }

/**
 * Creates ports: `bulk` is POST …/ports/bulk, which skips the network_id check and reproduces
 * its two quirks (quirk 6). Answers after every bound port's push finished (quirk 10).
 */
export async function createPorts(state: AlcorState, projectId: string, requests: readonly JsonObject[], bulk: boolean): Promise<PortEntity[]> {
  // 1. Read, validate, apply defaults and check every reference; nothing is changed yet.
  const plans = requests.map((req) => {
    const port = readPort(req);
    if (!bulk && !port.network_id) throw new AlcorHttpError(412, 'Network id is required');
    checkPort(port);
    port.id ??= randomUUID(); // only a missing/null id gets a UUID; "" is kept
    port.project_id = projectId;
    port.tenant_id ??= projectId;
    port['binding:vif_type'] ??= DEFAULT_VIF_TYPE;
    port.port_security_enabled ??= true;
    const vpc = port.network_id === undefined ? undefined : state.vpcs.get(port.network_id);
    if (!vpc) throw new AlcorHttpError(500, 'Get VpcEntity exception');
    const ips = planFixedIps(state, vpc.id, port.fixed_ips);
    checkSecurityGroups(state, port.security_groups);
    if (port.mac_address !== undefined && state.macs.has(port.mac_address)) throw new AlcorHttpError(500, 'Allocate mac address error');
    const node = resolveNode(state, port);
    return { port, ips, node, vpcId: vpc.id };
  });

  // 2. Allocate addresses; any failure gives back what this request took.
  const allocations = new Allocations(state);
  const prepared: Prepared[] = [];
  try {
    for (const { port, ips, node, vpcId } of plans) {
      const fixed: FixedIp[] = [];
      const autoIps: number[] = [];
      for (const req of ips) {
        const got = allocations.ip(req, vpcId);
        if (got.auto) autoIps.push(fixed.length);
        fixed.push({ subnet_id: got.subnetId, ip_address: got.ip });
      }
      // `fixed_ips: []` allocates nothing and stays [] (inferred: the processor loops over nothing).
      port.fixed_ips = fixed;
      const autoMac = port.mac_address === undefined;
      port.mac_address = allocations.mac(port.mac_address);
      prepared.push({ port, node, explicitSgs: port.security_groups !== undefined, autoIps, autoMac });
    }
  } catch (e) {
    allocations.rollback();
    throw e;
  }
  if (bulk) applyBulkQuirks(prepared);

  // 3. Store: SG default filled in (auto-created, not bound), bindings, subnet port count.
  for (const p of prepared) {
    const port = p.port;
    if (!p.explicitSgs) port.security_groups = [ensureDefaultSecurityGroup(state, port.tenant_id!, projectId).id];
    // An existing id is overwritten, as the cache `put` does (inferred).
    state.ports.set(port.id!, ordered(port));
    indexSubnetPorts(state, port);
    if (p.explicitSgs) bindSecurityGroups(state, port.id!, port.security_groups!);
  }
  const answers = prepared.map((p) => ordered(structuredClone(p.port)));

  // 4. Bound ports: push, then write ACTIVE/FAILED (the answer above keeps the old status).
  await pushBindings(state, prepared.filter((p) => p.node).map((p) => ({
    request: 'create', portState: 'CREATE', projectId, port: structuredClone(ordered(p.port)), node: structuredClone(p.node!),
  })));
  return answers;
}

/**
 * [QUIRK 6] Bulk create with automatic addresses: every allocated IP is written to every matching
 * fixed_ip, so all ports of a subnet end with the last IP; the MAC callback never advances, so all
 * ports get the first MAC. IPM and the MAC manager still hold all N addresses.
 */
function applyBulkQuirks(prepared: Prepared[]): void {
  const lastIp = new Map<string, string>();
  for (const p of prepared) for (const i of p.autoIps) lastIp.set(p.port.fixed_ips![i]!.subnet_id!, p.port.fixed_ips![i]!.ip_address!);
  for (const p of prepared) {
    for (const i of p.autoIps) {
      const ip = p.port.fixed_ips![i]!;
      ip.ip_address = lastIp.get(ip.subnet_id!)!;
    }
  }
  const firstMac = prepared.find((p) => p.autoMac)?.port.mac_address;
  for (const p of prepared) if (p.autoMac) p.port.mac_address = firstMac!;
}

const sameIp = (a: FixedIp, b: FixedIp): boolean => a.subnet_id === b.subnet_id && a.ip_address === b.ip_address;

/** DPM's PortState op for an update (`determinePortOperationType`). */
function updateOperation(port: PortEntity): 'CREATE' | 'UPDATE' | 'DELETE' {
  const id = port.device_id ?? '';
  const owner = port.device_owner ?? '';
  if (id !== '' && owner !== '') return 'CREATE';
  if (id === '' && owner === '') return 'DELETE';
  return 'UPDATE';
}

async function updatePort(state: AlcorState, projectId: string, portId: string, body: unknown): Promise<PortEntity> {
  const stored = state.ports.get(portId);
  if (!stored) throw new AlcorHttpError(404, 'Port not found');
  const req = readObject(requestObject(body, 'PortWebJson'), 'port');
  if (!req) throw new AlcorHttpError(500, NO_MESSAGE);
  const update = readPort(req);
  checkPort(update);

  // Every field null in the body is filled from the stored port (PortProcessor.updateProcess).
  const merged: PortEntity = { ...structuredClone(stored), ...update, id: portId, project_id: projectId };
  const vpcId = merged.network_id;
  if (update.network_id !== undefined && !state.vpcs.has(update.network_id)) throw new AlcorHttpError(500, 'Get VpcEntity exception');

  // Plan the changes, checking every reference before touching anything. A fixed IP that is
  // in both the stored and the new list is kept; the others are released or allocated.
  const oldIps = stored.fixed_ips ?? [];
  const newList = update.fixed_ips;
  const ipsChanged = newList !== undefined && JSON.stringify(newList) !== JSON.stringify(oldIps);
  const added = ipsChanged ? newList.filter((n) => !oldIps.some((o) => sameIp(o, n))) : [];
  const ipPlan = planFixedIps(state, vpcId ?? '', added);
  const macChanged = update.mac_address !== undefined && update.mac_address.toLowerCase() !== (stored.mac_address ?? '').toLowerCase();
  if (macChanged && state.macs.has(update.mac_address!)) throw new AlcorHttpError(500, 'Allocate mac address error');
  checkSecurityGroups(state, update.security_groups);
  const node = resolveNode(state, merged);

  // Allocate, then give back what the port no longer holds.
  const allocations = new Allocations(state);
  try {
    if (ipsChanged) {
      const got = ipPlan.map((r) => allocations.ip(r, vpcId ?? ''));
      let next = 0;
      merged.fixed_ips = newList.map((n) => {
        if (oldIps.some((o) => sameIp(o, n))) return n;
        const g = got[next++]!;
        return { subnet_id: g.subnetId, ip_address: g.ip };
      });
    } else {
      merged.fixed_ips = stored.fixed_ips;
    }
    if (macChanged) merged.mac_address = allocations.mac(update.mac_address);
  } catch (e) {
    allocations.rollback();
    throw e;
  }
  if (ipsChanged) {
    for (const o of oldIps) if (!merged.fixed_ips!.some((n) => sameIp(o, n))) state.ranges.get(o.subnet_id ?? '')?.release(o.ip_address ?? '');
  }
  if (macChanged && stored.mac_address) state.macs.release(stored.mac_address);
  if (update.security_groups !== undefined) {
    unbindSecurityGroups(state, portId);
    bindSecurityGroups(state, portId, update.security_groups);
  }
  // SubnetPortsRepository.updateSubnetPortIds: nothing changes when the new owner is the gateway.
  if (merged.device_owner !== GATEWAY_OWNER) {
    unindexSubnetPorts(state, stored);
    indexSubnetPorts(state, merged);
  }
  const answer = ordered(structuredClone(merged));
  state.ports.set(portId, ordered(merged));
  if (node) {
    await pushBindings(state, [{ request: 'update', portState: updateOperation(merged), projectId, port: structuredClone(answer), node: structuredClone(node) }]);
  }
  return answer;
}

/** Deletes a port and gives back its addresses; internal callers (subnet delete) too. */
export async function deletePort(state: AlcorState, projectId: string, portId: string): Promise<boolean> {
  const port = state.ports.get(portId);
  if (!port) return false;
  for (const ip of port.fixed_ips ?? []) state.ranges.get(ip.subnet_id ?? '')?.release(ip.ip_address ?? '');
  if (port.mac_address) state.macs.release(port.mac_address);
  unbindSecurityGroups(state, portId);
  unindexSubnetPorts(state, port);
  state.ports.delete(portId);
  // A bound port also gets a PortState DELETE to its host; an unknown node means no push.
  const hostId = port['binding:host_id'];
  const node = hostId === undefined ? undefined : nodesNamed(state, hostId)[0];
  if (node) await pushBindings(state, [{ request: 'delete', portState: 'DELETE', projectId, port: structuredClone(port), node: structuredClone(node) }]);
  return true;
}

export function portRoutes(state: AlcorState): Route[] {
  return [
    {
      service: 'port', method: 'POST', pattern: '/project/{project_id}/ports', body: true,
      handler: async ({ params, body }) => {
        const req = readObject(requestObject(body, 'PortWebJson'), 'port');
        if (!req) throw new AlcorHttpError(500, NO_MESSAGE); // verifyResourceNotNull: no mapping in PM
        const [port] = await createPorts(state, params.project_id!, [req], false);
        return json(201, { port: port! });
      },
    },
    {
      service: 'port', method: 'POST', pattern: '/project/{project_id}/ports/bulk', body: true,
      handler: async ({ params, body }) => {
        const list = readArray(requestObject(body, 'PortWebBulkJson'), 'ports');
        if (!list) throw new AlcorHttpError(500, NO_MESSAGE);
        const ports = await createPorts(state, params.project_id!, list.map((p) => (isObject(p) ? p : {})), true);
        return json(201, { ports });
      },
    },
    {
      // updatePortBulk is unimplemented in Alcor and returns null: 200 with an empty body.
      service: 'port', method: 'PUT', pattern: '/project/{project_id}/ports/bulk', body: true,
      handler: () => ({ status: 200, empty: true }),
    },
    {
      service: 'port', method: 'PUT', pattern: '/project/{project_id}/ports/{port_id}', body: true,
      handler: async ({ params, body }) => json(200, { port: await updatePort(state, params.project_id!, params.port_id!, body) }),
    },
    {
      service: 'port', method: 'GET', pattern: '/project/{project_id}/ports/{port_id}',
      handler: ({ params, query }) => {
        const port = state.ports.get(params.port_id!);
        if (!port) throw new AlcorHttpError(404, 'Port not found');
        return json(200, { port: selectFields(query, port) });
      },
    },
    {
      // Every project's ports, gateway ports included.
      service: 'port', method: 'GET', pattern: '/project/{project_id}/ports',
      handler: ({ query }) => {
        const keep = queryFilter(query, PORT_KEYS);
        const ports = [...state.ports.values()].filter((p) => keep(p as Record<string, unknown>)).map((p) => selectFields(query, p));
        return json(200, { ports });
      },
    },
    {
      service: 'port', method: 'DELETE', pattern: '/project/{project_id}/ports/{port_id}',
      handler: async ({ params }) => {
        if (!(await deletePort(state, params.project_id!, params.port_id!))) throw new AlcorHttpError(404, 'Port not found');
        return { status: 200, empty: true };
      },
    },
    {
      // A bare integer: the non-gateway ports of the subnet (quirk 5).
      service: 'port', method: 'GET', pattern: '/project/{project_id}/subnet-port-count/{subnet_id}',
      handler: ({ params }) => json(200, state.subnetPortCount(params.subnet_id!)),
    },
  ];
}
