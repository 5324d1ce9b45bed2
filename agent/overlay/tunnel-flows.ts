// The tunnel bridge's OpenFlow program, computed from the neighbor table (docs/data-plane.md §
// "Neighbor table"). br-int stays a NORMAL learning switch with one access VLAN per VNI; its trunk
// patch port carries every VLAN to br-tun, where frames are seen with their VLAN (which names the
// VNI) and nothing is flooded:
//   table 0  from br-int -> table 1; from a tunnel with tun_id=VNI -> tag VLAN(VNI), to br-int
//   table 1  ARP request for a remote neighbor's IP -> answered here, back where it came from;
//            frame to a remote neighbor's MAC -> untagged, out of the tunnel to its vhost
//   anything else (broadcast, unknown unicast, ARP for an unknown IP) is dropped.
// Local neighbors get no flow: br-int reaches them by itself. Pure: no I/O.
import type { Flow } from '../openflow/index.js';
import { OFPP } from '../openflow/index.js';
import type { NeighborEntry } from './neighbor-table.js';

export const TUNNEL_BRIDGE = 'br-tun';
/** The patch pair between br-int and br-tun. */
export const PATCH = { onInt: 'patch-tun', onTun: 'patch-int' } as const;

export const TABLE = { classify: 0, fromInt: 1 } as const;

// Cookies say which rule made a flow ("MRK" and a kind), so a dump reads at a glance.
const COOKIE_BASE = 0x4d524b00n << 32n;
export const COOKIE = {
  fixed: COOKIE_BASE | 1n,
  ingress: COOKIE_BASE | 2n,
  neighbor: COOKIE_BASE | 3n,
} as const;

const PRIORITY = { fromInt: 100, ingress: 50, arp: 100, unicast: 50, drop: 0 } as const;
const ETH_TYPE_ARP = 0x0806;
const ETH_TYPE_VLAN = 0x8100;
const ARP_REQUEST = 1;
const ARP_REPLY = 2;

/** What a neighbor's flows depend on besides the entry itself. */
export interface FlowContext {
  /** This vhost's underlay address: entries on it are local. */
  readonly localIp: string | undefined;
  /** The VNI's local VLAN; undefined = none (then the VNI gets no flow). */
  vlanOf(vni: number): number | undefined;
  /** The ofport of the tunnel to `hostIp` for `vni` on br-tun; undefined = no such tunnel (yet). */
  tunnelOfport(hostIp: string, vni: number): number | undefined;
}

/** The flows every br-tun has: frames from br-int go to table 1; the rest is dropped. */
export function fixedFlows(patchOfport: number): Flow[] {
  return [
    { table: TABLE.classify, priority: PRIORITY.fromInt, cookie: COOKIE.fixed, match: { inPort: patchOfport }, gotoTable: TABLE.fromInt },
    { table: TABLE.classify, priority: PRIORITY.drop, cookie: COOKIE.fixed, match: {}, actions: [] },
    { table: TABLE.fromInt, priority: PRIORITY.drop, cookie: COOKIE.fixed, match: {}, actions: [] },
  ];
}

/**
 * The baseline: br-tun as a VLAN-aware learning switch (its tunnel ports are protected access
 * ports of their VNI's VLAN), i.e. flood and learn across every tunnel of the VNI.
 */
export function floodFlows(): Flow[] {
  return [{ table: TABLE.classify, priority: PRIORITY.drop, cookie: COOKIE.fixed, match: {}, actions: [{ type: 'output', port: OFPP.NORMAL }] }];
}

/** A frame from a tunnel of VNI `vni` enters br-int on the VNI's VLAN. */
export function ingressFlow(vni: number, vlan: number, patchOfport: number): Flow {
  return {
    table: TABLE.classify, priority: PRIORITY.ingress, cookie: COOKIE.ingress, match: { tunnelId: BigInt(vni) },
    actions: [
      { type: 'push_vlan', ethertype: ETH_TYPE_VLAN },
      { type: 'set_field', field: 'vlan_vid', value: vlan },
      { type: 'output', port: patchOfport },
    ],
  };
}

/**
 * A remote neighbor's two flows: the ARP responder (the request becomes the reply in place, as a
 * router's ARP proxy would write it, and goes back out of the port it came in by) and the unicast
 * flow straight to the tunnel of its vhost. None for a local neighbor, or when the VNI has no VLAN
 * or the tunnel does not exist yet (they come when it does).
 */
export function neighborFlows(e: NeighborEntry, ctx: FlowContext): Flow[] {
  if (e.hostIp === ctx.localIp) return [];
  const vlan = ctx.vlanOf(e.vni);
  const tunnel = ctx.tunnelOfport(e.hostIp, e.vni);
  if (vlan === undefined || tunnel === undefined) return [];
  return [
    {
      table: TABLE.fromInt, priority: PRIORITY.arp, cookie: COOKIE.neighbor,
      match: { ethType: ETH_TYPE_ARP, vlanVid: vlan, arpOp: ARP_REQUEST, arpTpa: e.ip },
      actions: [
        { type: 'move', src: 'eth_src', dst: 'eth_dst' },
        { type: 'set_field', field: 'eth_src', value: e.mac },
        { type: 'set_field', field: 'arp_op', value: ARP_REPLY },
        { type: 'move', src: 'arp_sha', dst: 'arp_tha' },
        { type: 'move', src: 'arp_spa', dst: 'arp_tpa' },
        { type: 'set_field', field: 'arp_sha', value: e.mac },
        { type: 'set_field', field: 'arp_spa', value: e.ip },
        { type: 'output', port: OFPP.IN_PORT },
      ],
    },
    {
      table: TABLE.fromInt, priority: PRIORITY.unicast, cookie: COOKIE.neighbor,
      match: { vlanVid: vlan, ethDst: e.mac },
      actions: [{ type: 'pop_vlan' }, { type: 'output', port: tunnel }],
    },
  ];
}

/** Identifies a flow as OVS does (table, priority, match): adding a flow with the same key replaces it. */
export function flowKey(f: Flow): string {
  const m = f.match;
  return `${f.table}/${f.priority}/${m.inPort ?? ''}/${m.tunnelId ?? ''}/${m.ethType ?? ''}/${m.vlanVid ?? ''}/${m.arpOp ?? ''}/${m.arpTpa ?? ''}/${m.ethDst ?? ''}`;
}
