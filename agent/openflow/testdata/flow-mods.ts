// The FlowMod values equivalent to each ovs-ofctl command in captured.ts: the serializer must
// produce the captured bytes from them, and the parser must give them back from those bytes.
import { OFPP, OFPTT_ALL, OFP_DEFAULT_PRIORITY } from '../constants.js';
import type { FlowMod } from '../messages.js';
import type { CAPTURED } from './captured.js';

const ARP = 0x0806;
const MAC = '02:00:00:00:00:07';

export const FLOW_MODS: Record<keyof typeof CAPTURED, FlowMod> = {
  arpResponder: {
    command: 'add',
    flow: {
      table: 1, priority: 100, cookie: 0n,
      match: { ethType: ARP, vlanVid: 5, arpOp: 1, arpTpa: '10.1.0.7' },
      actions: [
        { type: 'move', src: 'eth_src', dst: 'eth_dst' },
        { type: 'set_field', field: 'eth_src', value: MAC },
        { type: 'set_field', field: 'arp_op', value: 2 },
        { type: 'move', src: 'arp_sha', dst: 'arp_tha' },
        { type: 'move', src: 'arp_spa', dst: 'arp_tpa' },
        { type: 'set_field', field: 'arp_sha', value: MAC },
        { type: 'set_field', field: 'arp_spa', value: '10.1.0.7' },
        { type: 'output', port: OFPP.IN_PORT },
      ],
    },
  },
  unicastToTunnel: {
    command: 'add',
    flow: {
      table: 1, priority: 50, cookie: 0x4d524b0000000003n,
      match: { vlanVid: 5, ethDst: MAC },
      actions: [
        { type: 'pop_vlan' },
        { type: 'set_field', field: 'tunnel_id', value: 1001n },
        { type: 'set_field', field: 'tun_ipv4_dst', value: '198.51.100.3' },
        { type: 'output', port: 2 },
      ],
    },
  },
  ingress: {
    command: 'add',
    flow: {
      table: 0, priority: 10, cookie: 0n,
      match: { tunnelId: 1001n },
      actions: [
        { type: 'push_vlan', ethertype: 0x8100 },
        { type: 'set_field', field: 'vlan_vid', value: 5 },
        { type: 'output', port: 1 },
      ],
    },
  },
  gotoTable: {
    command: 'add',
    flow: { table: 0, priority: 1, cookie: 0n, match: { inPort: 1 }, gotoTable: 1 },
  },
  actionsThenGoto: {
    command: 'add',
    flow: { table: 0, priority: 4, cookie: 0n, match: { inPort: 1 }, actions: [{ type: 'output', port: 3 }], gotoTable: 2 },
  },
  drop: {
    command: 'add',
    flow: { table: 1, priority: 0, cookie: 0x4d524b0000000001n, match: {} },
  },
  allMatchFields: {
    command: 'add',
    flow: {
      table: 2, priority: 7, cookie: 0n,
      match: {
        tunnelId: 0x10n, inPort: 3, ethSrc: '02:00:00:00:00:01', ethDst: '02:00:00:00:00:02', ethType: ARP, vlanVid: 9, arpOp: 1,
        arpSpa: '10.0.0.1', arpTpa: '10.0.0.2',
      },
      actions: [{ type: 'output', port: 4 }],
    },
  },
  modifyStrict: {
    command: 'modify_strict',
    flow: { table: 1, priority: 50, cookie: 0n, match: { vlanVid: 5, ethDst: MAC }, actions: [{ type: 'output', port: 3 }] },
  },
  deleteStrict: {
    command: 'delete_strict',
    flow: { table: 1, priority: 50, cookie: 0n, match: { vlanVid: 5, ethDst: MAC } },
  },
  deleteByCookie: {
    command: 'delete',
    // Priority means nothing to a non-strict delete; ovs-ofctl sends its default.
    flow: { table: OFPTT_ALL, priority: OFP_DEFAULT_PRIORITY, cookie: 0x4d524b0000000003n, match: {} },
    cookieMask: 0xffffffffffffffffn,
  },
};
