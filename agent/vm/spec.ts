// A batch of VM operations as the runner sees it: validated once, whole batch or nothing.
import { createHash } from 'node:crypto';
import type { agentV1 } from '@merak/proto';
import type { AlcorPortSettings } from './alcor-ports.js';
import { InvalidArgumentError } from '@merak/common';
import { isAgentKey } from './ownership.js';
import { broadcastOf, formatIpv4, macBytes, networkOf, parseIpv4, parseMac } from '@merak/common';

export type PortKind = 'veth' | 'internal';

export interface VmSpec {
  readonly id: string;
  readonly name: string;
  readonly ip: string;
  readonly prefixLength: number;
  readonly gateway: string | undefined;
  readonly mac: string;
  readonly mtu: number;
  readonly portKind: PortKind;
  readonly portName: string;
  readonly ifaceId: string | undefined;
  readonly externalIds: Readonly<Record<string, string>>;
  /** The VPC's overlay segment; 0 = none (untagged on br-int). */
  readonly vni: number;
  readonly routes: readonly VmRoute[];
  /** Alcor is the control plane: it allocates the port (ip and mac are '' until then). */
  readonly alcor: VmAlcorSettings | undefined;
  /** OVN is the control plane: the port goes on OVN's bridge and the VM waits for ovn-installed. */
  readonly ovn: VmOvnSettings | undefined;
}

export interface VmOvnSettings {
  /** Port on the bridge -> ovn-installed seen, at most this long. */
  readonly timeoutMs: number;
}

/** What VmSpec.ovn.timeout_ms = 0 means. */
export const DEFAULT_OVN_TIMEOUT_MS = 60_000;
const MAX_OVN_TIMEOUT_MS = 600_000;

/** A VM's Alcor port, and whether it is ready only once its GoalState is applied on this host. */
export interface VmAlcorSettings extends AlcorPortSettings {
  /** The coordinator registered this host with the agent's GoalState address: Alcor pushes here. */
  readonly awaitGoalState: boolean;
}

/** A route inside the VM besides the default one; `via` undefined = on-link. */
export interface VmRoute {
  readonly destination: string;
  readonly prefixLength: number;
  readonly via: string | undefined;
}

export interface VmRef {
  readonly id: string;
  readonly name: string;
}

export type VmOperation =
  | { readonly kind: 'create'; readonly spec: VmSpec; readonly startOffsetMs: number; readonly maybeExists: boolean }
  | { readonly kind: 'delete'; readonly ref: VmRef; readonly startOffsetMs: number };

export interface ApplyBatch {
  readonly operations: readonly VmOperation[];
  readonly concurrency: number;
  readonly startAtUnixMs: number;
}

export interface BatchLimits {
  readonly maxOperations: number;
  readonly maxConcurrency: number;
  readonly defaultConcurrency: number;
}

const MAX_ROUTES = 16;
export const MAX_VNI = 0xffffff;

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const PORT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;

/** The port name on br-int when the caller gives none: stable, <= 15 bytes, from the id. */
export function derivePortName(id: string): string {
  return `mv${createHash('sha1').update(id).digest('hex').slice(0, 13)}`;
}

function checkName(field: string, value: string): string {
  if (!NAME.test(value)) {
    throw new InvalidArgumentError(field, `'${value}' is not a valid name (1-64 of A-Z a-z 0-9 _ . -, starting alphanumeric)`);
  }
  return value;
}

function checkSpec(field: string, s: agentV1.VmSpec): VmSpec {
  const id = checkName(`${field}.id`, s.id);
  const name = checkName(`${field}.name`, s.name);
  const prefix = s.prefixLength;
  if (!Number.isInteger(prefix) || prefix < 1 || prefix > 30) {
    throw new InvalidArgumentError(`${field}.prefix_length`, `${prefix} is outside 1..30`);
  }
  const mtu = s.mtu === 0 ? 1500 : s.mtu;
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) {
    throw new InvalidArgumentError(`${field}.mtu`, `${s.mtu} is outside 68..65535`);
  }
  for (const key of Object.keys(s.externalIds)) {
    if (isAgentKey(key)) {
      throw new InvalidArgumentError(`${field}.external_ids`, `key '${key}' is reserved for the agent`);
    }
  }
  if (!Number.isInteger(s.vni) || s.vni < 0 || s.vni > MAX_VNI) {
    throw new InvalidArgumentError(`${field}.vni`, `${s.vni} is outside 0..${MAX_VNI}`);
  }
  if (s.routes.length > MAX_ROUTES) throw new InvalidArgumentError(`${field}.routes`, `${s.routes.length} routes exceed the limit of ${MAX_ROUTES}`);
  let portKind: PortKind;
  switch (s.portKind) {
    case 0: portKind = 'veth'; break;
    case 1: portKind = 'internal'; break;
    default: throw new InvalidArgumentError(`${field}.port_kind`, `unknown port kind ${String(s.portKind)}`);
  }
  const common = { id, name, prefixLength: prefix, mtu, portKind, ifaceId: s.ifaceId === '' ? undefined : s.ifaceId, externalIds: { ...s.externalIds }, vni: s.vni };
  if (s.alcor && s.ovn) throw new InvalidArgumentError(`${field}.ovn`, 'cannot be set with alcor: a VM has one control plane');
  if (s.alcor) return checkAlcorSpec(field, s, s.alcor, common);
  const spec = checkAddressedSpec(field, s, common);
  return s.ovn ? { ...spec, ovn: checkOvn(field, s, s.ovn) } : spec;
}

const IFACE_ID = /^[\x21-\x7e]{1,255}$/;

/** An OVN port: ovn-controller binds it by iface-id (the logical switch port's name), untagged. */
function checkOvn(field: string, s: agentV1.VmSpec, o: agentV1.OvnPort): VmOvnSettings {
  if (s.ifaceId === '') throw new InvalidArgumentError(`${field}.iface_id`, "is required with ovn: it is the logical switch port's name ovn-controller binds the port by");
  if (!IFACE_ID.test(s.ifaceId)) throw new InvalidArgumentError(`${field}.iface_id`, `'${s.ifaceId}' is not a logical port name (1-255 printable characters, no spaces)`);
  if (s.vni !== 0) throw new InvalidArgumentError(`${field}.vni`, "is OVN's to program: leave it 0 (the port is untagged on OVN's bridge)");
  if (o.timeoutMs > MAX_OVN_TIMEOUT_MS) throw new InvalidArgumentError(`${field}.ovn.timeout_ms`, `${o.timeoutMs} exceeds ${MAX_OVN_TIMEOUT_MS}`);
  return { timeoutMs: o.timeoutMs === 0 ? DEFAULT_OVN_TIMEOUT_MS : o.timeoutMs };
}

type CommonSpec = Pick<VmSpec, 'id' | 'name' | 'prefixLength' | 'mtu' | 'portKind' | 'ifaceId' | 'externalIds' | 'vni'>;

function checkPortName(field: string, portName: string): string {
  if (!PORT_NAME.test(portName) || portName === 'eth0') {
    throw new InvalidArgumentError(`${field}.port_name`, `'${portName}' is not a valid interface name (1-15 of A-Z a-z 0-9 _ . -)`);
  }
  return portName;
}

/** A VM whose addresses the caller chose (standalone mode). */
function checkAddressedSpec(field: string, s: agentV1.VmSpec, common: CommonSpec): VmSpec {
  const prefix = common.prefixLength;
  const ip = parseIpv4(s.ip);
  if (ip === undefined) throw new InvalidArgumentError(`${field}.ip`, `'${s.ip}' is not an IPv4 address`);
  const first = ip >>> 24;
  if (first === 0 || first === 127 || first >= 224) {
    throw new InvalidArgumentError(`${field}.ip`, `${s.ip} is not a unicast host address`);
  }
  if (ip === networkOf(ip, prefix) || ip === broadcastOf(ip, prefix)) {
    throw new InvalidArgumentError(`${field}.ip`, `${s.ip} is the network or broadcast address of /${prefix}`);
  }
  let gateway: string | undefined;
  if (s.gateway !== '') {
    const gw = parseIpv4(s.gateway);
    if (gw === undefined) throw new InvalidArgumentError(`${field}.gateway`, `'${s.gateway}' is not an IPv4 address`);
    if (networkOf(gw, prefix) !== networkOf(ip, prefix)) {
      throw new InvalidArgumentError(
        `${field}.gateway`,
        `${s.gateway} is outside the VM's subnet ${formatIpv4(networkOf(ip, prefix))}/${prefix}`,
      );
    }
    if (gw === ip || gw === networkOf(ip, prefix) || gw === broadcastOf(ip, prefix)) {
      throw new InvalidArgumentError(`${field}.gateway`, `${s.gateway} cannot be the VM's own, network or broadcast address`);
    }
    gateway = s.gateway;
  }
  const mac = parseMac(s.mac);
  if (mac === undefined) throw new InvalidArgumentError(`${field}.mac`, `'${s.mac}' is not a MAC address (xx:xx:xx:xx:xx:xx)`);
  const macFirst = macBytes(mac)[0] ?? 0;
  if ((macFirst & 1) === 1 || mac === '00:00:00:00:00:00') {
    throw new InvalidArgumentError(`${field}.mac`, `${mac} is not a unicast MAC`);
  }
  const portName = checkPortName(field, s.portName === '' ? derivePortName(common.id) : s.portName);
  const routes = s.routes.map((r, k) => checkRoute(`${field}.routes[${k}]`, r, ip, prefix));
  return { ...common, ip: s.ip, gateway, mac, portName, routes, alcor: undefined, ovn: undefined };
}

const PORT_ID = /^[A-Za-z0-9][A-Za-z0-9-]{10,63}$/;
const ALCOR_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const MAX_ALCOR_TIMEOUT_MS = 600_000;
const MAX_ALCOR_RETRIES = 10;

/** The name Alcor's host agent expects for a port on br-int: "tap" + the first 11 characters of its id. */
export function alcorPortName(portId: string): string {
  return `tap${portId.slice(0, 11)}`;
}

/** A VM whose port Alcor allocates: its IP and MAC come from Alcor, so the caller gives none. */
function checkAlcorSpec(field: string, s: agentV1.VmSpec, a: agentV1.AlcorPort, common: CommonSpec): VmSpec {
  const f = `${field}.alcor`;
  if (s.ip !== '') throw new InvalidArgumentError(`${field}.ip`, 'is chosen by Alcor: leave it empty');
  if (s.mac !== '') throw new InvalidArgumentError(`${field}.mac`, 'is chosen by Alcor: leave it empty');
  if (common.portKind !== 'internal') throw new InvalidArgumentError(`${field}.port_kind`, "Alcor's host agent expects OVS internal ports");
  if (common.vni !== 0) throw new InvalidArgumentError(`${field}.vni`, 'is Alcor\'s to program: leave it 0');
  if (s.routes.length > 0) throw new InvalidArgumentError(`${field}.routes`, "are Alcor's to program: leave them empty");
  let url: URL | undefined;
  try {
    url = new URL(a.portUrl);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw new InvalidArgumentError(`${f}.port_url`, `'${a.portUrl}' is not an http(s) URL`);
  const ids: Array<[string, string]> = [['project_id', a.projectId], ['tenant_id', a.tenantId], ['network_id', a.networkId], ['subnet_id', a.subnetId], ['host_id', a.hostId]];
  for (const [key, value] of ids) if (!ALCOR_ID.test(value)) throw new InvalidArgumentError(`${f}.${key}`, `'${value}' is not an id (1-64 of A-Z a-z 0-9 _ . -)`);
  a.securityGroupIds.forEach((g, k) => {
    if (!ALCOR_ID.test(g)) throw new InvalidArgumentError(`${f}.security_group_ids[${k}]`, `'${g}' is not an id`);
  });
  if (!PORT_ID.test(a.portId)) throw new InvalidArgumentError(`${f}.port_id`, `'${a.portId}' is not a port id (12-64 of A-Z a-z 0-9 -: its first 11 name the tap)`);
  if (a.timeoutMs > MAX_ALCOR_TIMEOUT_MS) throw new InvalidArgumentError(`${f}.timeout_ms`, `${a.timeoutMs} exceeds ${MAX_ALCOR_TIMEOUT_MS}`);
  if (a.retries > MAX_ALCOR_RETRIES) throw new InvalidArgumentError(`${f}.retries`, `${a.retries} exceeds ${MAX_ALCOR_RETRIES}`);
  let gateway: string | undefined;
  if (s.gateway !== '') {
    if (parseIpv4(s.gateway) === undefined) throw new InvalidArgumentError(`${field}.gateway`, `'${s.gateway}' is not an IPv4 address`);
    gateway = s.gateway;
  }
  const tap = alcorPortName(a.portId);
  const portName = checkPortName(field, s.portName === '' ? tap : s.portName);
  if (portName !== tap) throw new InvalidArgumentError(`${field}.port_name`, `'${portName}' is not '${tap}', the name Alcor's host agent looks for`);
  return {
    ...common, ip: '', mac: '', gateway, portName, routes: [],
    alcor: {
      portUrl: a.portUrl.replace(/\/+$/, ''), projectId: a.projectId, tenantId: a.tenantId, networkId: a.networkId, subnetId: a.subnetId,
      securityGroupIds: [...a.securityGroupIds], portId: a.portId, hostId: a.hostId, timeoutMs: a.timeoutMs === 0 ? 20_000 : a.timeoutMs, retries: a.retries,
      awaitGoalState: a.awaitGoalstate,
    },
    ovn: undefined,
  };
}

/** A route's destination is a CIDR with no host bits; its next hop, if any, is on the VM's subnet. */
function checkRoute(field: string, r: agentV1.Route, ip: number, prefix: number): VmRoute {
  const m = /^(.+)\/(\d{1,2})$/.exec(r.destination);
  const dst = m ? parseIpv4(m[1]!) : undefined;
  const len = m ? Number(m[2]) : NaN;
  if (dst === undefined || !(len >= 1 && len <= 32)) throw new InvalidArgumentError(`${field}.destination`, `'${r.destination}' is not an IPv4 CIDR (a.b.c.d/1..32)`);
  if (networkOf(dst, len) !== dst) throw new InvalidArgumentError(`${field}.destination`, `${r.destination} has host bits set`);
  if (r.via === '') return { destination: m![1]!, prefixLength: len, via: undefined };
  const via = parseIpv4(r.via);
  if (via === undefined) throw new InvalidArgumentError(`${field}.via`, `'${r.via}' is not an IPv4 address`);
  if (networkOf(via, prefix) !== networkOf(ip, prefix) || via === ip) {
    throw new InvalidArgumentError(`${field}.via`, `${r.via} is not another address on the VM's subnet ${formatIpv4(networkOf(ip, prefix))}/${prefix}`);
  }
  return { destination: m![1]!, prefixLength: len, via: r.via };
}

/** Validates a whole Apply request; throws InvalidArgumentError naming the first bad field. */
export function validateApply(req: agentV1.ApplyRequest, limits: BatchLimits): ApplyBatch {
  if (req.operations.length === 0) throw new InvalidArgumentError('operations', 'is empty');
  if (req.operations.length > limits.maxOperations) {
    throw new InvalidArgumentError('operations', `${req.operations.length} operations exceed the limit of ${limits.maxOperations}`);
  }
  const concurrency = req.concurrency === 0 ? limits.defaultConcurrency : req.concurrency;
  if (concurrency > limits.maxConcurrency) {
    throw new InvalidArgumentError('concurrency', `${req.concurrency} exceeds the limit of ${limits.maxConcurrency}`);
  }
  const ids = new Map<string, number>();
  const names = new Map<string, number>();
  const ports = new Map<string, number>();
  const unique = (seen: Map<string, number>, value: string, i: number, field: string): void => {
    const before = seen.get(value);
    if (before !== undefined) throw new InvalidArgumentError(field, `'${value}' is also used by operations[${before}]`);
    seen.set(value, i);
  };
  const operations = req.operations.map((op, i): VmOperation => {
    const field = `operations[${i}]`;
    const startOffsetMs = op.startOffsetMs;
    switch (op.op?.$case) {
      case 'create': {
        const spec = checkSpec(`${field}.create`, op.op.value);
        unique(ids, spec.id, i, `${field}.create.id`);
        unique(names, spec.name, i, `${field}.create.name`);
        unique(ports, spec.portName, i, `${field}.create.port_name`);
        return { kind: 'create', spec, startOffsetMs, maybeExists: op.maybeExists ?? false };
      }
      case 'delete': {
        const ref = { id: checkName(`${field}.delete.id`, op.op.value.id), name: checkName(`${field}.delete.name`, op.op.value.name) };
        unique(ids, ref.id, i, `${field}.delete.id`);
        unique(names, ref.name, i, `${field}.delete.name`);
        return { kind: 'delete', ref, startOffsetMs };
      }
      default:
        throw new InvalidArgumentError(field, 'has neither create nor delete');
    }
  });
  return { operations, concurrency, startAtUnixMs: req.startAtUnixMs };
}

/**
 * Two specs describe the same VM (what makes a repeated create a no-op). With Alcor, the port
 * (and so the addresses Alcor gave it) is what must agree; the request carries no addresses.
 */
export function sameSpec(a: VmSpec, b: VmSpec): boolean {
  if (a.alcor || b.alcor) {
    const x = a.alcor;
    const y = b.alcor;
    if (!x || !y || x.portId !== y.portId || x.projectId !== y.projectId || x.networkId !== y.networkId || x.subnetId !== y.subnetId || x.hostId !== y.hostId) return false;
  } else if (a.ip !== b.ip || a.mac !== b.mac) return false;
  // An OVN VM and a standalone one differ (another bridge); the wait's timeout is not the VM's.
  if ((a.ovn === undefined) !== (b.ovn === undefined)) return false;
  return (
    a.id === b.id && a.name === b.name && a.prefixLength === b.prefixLength &&
    (a.gateway ?? '') === (b.gateway ?? '') && a.mtu === b.mtu && a.portKind === b.portKind &&
    a.portName === b.portName && (a.ifaceId ?? '') === (b.ifaceId ?? '') && a.vni === b.vni && sameRoutes(a.routes, b.routes)
  );
}

function sameRoutes(a: VmSpec['routes'], b: VmSpec['routes']): boolean {
  return a.length === b.length && a.every((r, i) => r.destination === b[i]!.destination && r.prefixLength === b[i]!.prefixLength && r.via === b[i]!.via);
}
