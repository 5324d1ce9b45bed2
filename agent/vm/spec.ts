// A batch of VM operations as the runner sees it: validated once, whole batch or nothing.
import { createHash } from 'node:crypto';
import type { agentV1 } from '@merak/proto';
import { InvalidArgumentError } from '../errors.js';
import { broadcastOf, formatIpv4, macBytes, networkOf, parseIpv4, parseMac } from './ipv4.js';

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
  | { readonly kind: 'create'; readonly spec: VmSpec; readonly startOffsetMs: number }
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
/** external_ids keys the agent writes itself; a caller may not set them. */
export const RESERVED_EXTERNAL_ID = /^(merak-|vm-id$|vm-name$|iface-id$|attached-mac$)/;

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
  const ip = parseIpv4(s.ip);
  if (ip === undefined) throw new InvalidArgumentError(`${field}.ip`, `'${s.ip}' is not an IPv4 address`);
  const first = ip >>> 24;
  if (first === 0 || first === 127 || first >= 224) {
    throw new InvalidArgumentError(`${field}.ip`, `${s.ip} is not a unicast host address`);
  }
  const prefix = s.prefixLength;
  if (!Number.isInteger(prefix) || prefix < 1 || prefix > 30) {
    throw new InvalidArgumentError(`${field}.prefix_length`, `${prefix} is outside 1..30`);
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
  const mtu = s.mtu === 0 ? 1500 : s.mtu;
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) {
    throw new InvalidArgumentError(`${field}.mtu`, `${s.mtu} is outside 68..65535`);
  }
  const portName = s.portName === '' ? derivePortName(id) : s.portName;
  if (!PORT_NAME.test(portName) || portName === 'eth0') {
    throw new InvalidArgumentError(`${field}.port_name`, `'${portName}' is not a valid interface name (1-15 of A-Z a-z 0-9 _ . -)`);
  }
  for (const key of Object.keys(s.externalIds)) {
    if (RESERVED_EXTERNAL_ID.test(key)) {
      throw new InvalidArgumentError(`${field}.external_ids`, `key '${key}' is reserved for the agent`);
    }
  }
  if (!Number.isInteger(s.vni) || s.vni < 0 || s.vni > MAX_VNI) {
    throw new InvalidArgumentError(`${field}.vni`, `${s.vni} is outside 0..${MAX_VNI}`);
  }
  if (s.routes.length > MAX_ROUTES) throw new InvalidArgumentError(`${field}.routes`, `${s.routes.length} routes exceed the limit of ${MAX_ROUTES}`);
  const routes = s.routes.map((r, k) => checkRoute(`${field}.routes[${k}]`, r, ip, prefix));
  let portKind: PortKind;
  switch (s.portKind) {
    case 0: portKind = 'veth'; break;
    case 1: portKind = 'internal'; break;
    default: throw new InvalidArgumentError(`${field}.port_kind`, `unknown port kind ${String(s.portKind)}`);
  }
  return {
    id, name, ip: s.ip, prefixLength: prefix, gateway, mac, mtu, portKind, portName,
    ifaceId: s.ifaceId === '' ? undefined : s.ifaceId,
    externalIds: { ...s.externalIds },
    vni: s.vni,
    routes,
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
        return { kind: 'create', spec, startOffsetMs };
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
