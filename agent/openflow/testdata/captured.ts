// OFPT_FLOW_MOD messages as Open vSwitch's own encoder writes them: ovs-ofctl 3.1.0 (Debian
// openvswitch-common 3.1.0-2+deb12u1) run with each entry's arguments against the fake switch of
// testdata/capture.ts, on a unix socket at SOCKET. Each hex is the whole message ovs-ofctl sent
// (its xid was 2: HELLO took 1). `--no-names` keeps ovs-ofctl from asking for table features and
// port names first; it does not change the flow_mod. Re-capture with capture.ts.

/** Stands for `unix:<the fake switch's socket>` in args. */
export const SOCKET = '<socket>';

export interface CapturedFlowMod {
  /** ovs-ofctl's argv. */
  readonly args: readonly string[];
  readonly hex: string;
}

const ofctl = (...args: string[]): readonly string[] => ['-O', 'OpenFlow13', '--no-names', ...args];

export const CAPTURED = {
  /** An ARP responder: the request for 10.1.0.7 on VLAN 5 turned into the reply, back out of in_port. */
  arpResponder: {
    args: ofctl('add-flow', SOCKET, 'table=1,priority=100,arp,dl_vlan=5,arp_op=1,arp_tpa=10.1.0.7,actions='
      + 'move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:02:00:00:00:00:07->eth_src,set_field:2->arp_op,'
      + 'move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],'
      + 'set_field:02:00:00:00:00:07->arp_sha,set_field:10.1.0.7->arp_spa,IN_PORT'),
    hex: '040e00f000000002000000000000000000000000000000000100000000000064ffffffffffffffffffffffff00000000'
      + '0001001e80000a02080680000c02100580002a02000180002e040a0100070000000400a000000000ffff001800002320'
      + '00060030000000000000040600000206001900108000080602000000000700000019001080002a020002000000000000'
      + 'ffff00180000232000060030000000000001220600012406ffff00180000232000060020000000000000200400002204'
      + '001900108000300602000000000700000019001080002c040a0100070000000000000010fffffff80000000000000000',
  },
  /** Unicast to a remote MAC: untag, set the tunnel key and remote, out of the tunnel port. */
  unicastToTunnel: {
    args: ofctl('add-flow', SOCKET, 'table=1,priority=50,cookie=0x4d524b0000000003,dl_vlan=5,dl_dst=02:00:00:00:00:07,'
      + 'actions=pop_vlan,set_field:1001->tun_id,set_field:198.51.100.3->tun_dst,output:2'),
    hex: '040e0088000000024d524b000000000300000000000000000100000000000032ffffffffffffffffffffffff00000000'
      + '000100148000060602000000000780000c02100500000000000400400000000000120008000000000019001080004c08'
      + '00000000000003e90019001000014004c63364030000000000000010000000020000000000000000',
  },
  /** Ingress from a tunnel: tag with the VNI's VLAN (4101 = 5 | OFPVID_PRESENT). */
  ingress: {
    args: ofctl('add-flow', SOCKET, 'table=0,priority=10,tun_id=1001,actions=push_vlan:0x8100,set_field:4101->vlan_vid,output:1'),
    hex: '040e00700000000200000000000000000000000000000000000000000000000affffffffffffffffffffffff00000000'
      + '0001001080004c0800000000000003e9000400300000000000110008810000000019001080000c021005000000000000'
      + '00000010000000010000000000000000',
  },
  gotoTable: {
    args: ofctl('add-flow', SOCKET, 'table=0,priority=1,in_port=1,actions=goto_table:1'),
    hex: '040e004800000002000000000000000000000000000000000000000000000001ffffffffffffffffffffffff00000000'
      + '0001000c8000000400000001000000000001000801000000',
  },
  /** Actions and a goto in one flow: APPLY_ACTIONS comes first. */
  actionsThenGoto: {
    args: ofctl('add-flow', SOCKET, 'table=0,priority=4,in_port=1,actions=output:3,goto_table:2'),
    hex: '040e006000000002000000000000000000000000000000000000000000000004ffffffffffffffffffffffff00000000'
      + '0001000c8000000400000001000000000004001800000000000000100000000300000000000000000001000802000000',
  },
  drop: {
    args: ofctl('add-flow', SOCKET, 'table=1,priority=0,cookie=0x4d524b0000000001,actions=drop'),
    hex: '040e0038000000024d524b000000000100000000000000000100000000000000ffffffffffffffffffffffff00000000'
      + '0001000400000000',
  },
  /** Every match field the codec knows, in one flow: shows OVS's field order. */
  allMatchFields: {
    args: ofctl('add-flow', SOCKET, 'table=2,priority=7,tun_id=0x10,in_port=3,dl_src=02:00:00:00:00:01,dl_dst=02:00:00:00:00:02,'
      + 'arp,dl_vlan=9,arp_op=1,arp_spa=10.0.0.1,arp_tpa=10.0.0.2,actions=output:4'),
    hex: '040e009800000002000000000000000000000000000000000200000000000007ffffffffffffffffffffffff00000000'
      + '0001004e8000000400000003800008060200000000018000060602000000000280000a02080680000c02100980002a02'
      + '000180002c040a00000180002e040a00000280004c080000000000000010000000040018000000000000001000000004'
      + '0000000000000000',
  },
  modifyStrict: {
    args: ofctl('--strict', 'mod-flows', SOCKET, 'table=1,priority=50,dl_vlan=5,dl_dst=02:00:00:00:00:07,actions=output:3'),
    hex: '040e006000000002000000000000000000000000000000000102000000000032ffffffffffffffffffffffff00000000'
      + '000100148000060602000000000780000c02100500000000000400180000000000000010000000030000000000000000',
  },
  deleteStrict: {
    args: ofctl('--strict', 'del-flows', SOCKET, 'table=1,priority=50,dl_vlan=5,dl_dst=02:00:00:00:00:07'),
    hex: '040e004800000002000000000000000000000000000000000104000000000032ffffffffffffffffffffffff00000000'
      + '000100148000060602000000000780000c02100500000000',
  },
  /** Every flow, in every table, whose cookie is exactly this one. */
  deleteByCookie: {
    args: ofctl('del-flows', SOCKET, 'cookie=0x4d524b0000000003/-1'),
    hex: '040e0038000000024d524b0000000003ffffffffffffffffff03000000008000ffffffffffffffffffffffff00000000'
      + '0001000400000000',
  },
} as const satisfies Record<string, CapturedFlowMod>;

/** The HELLO ovs-ofctl -O OpenFlow13 opens with (xid 1): a version bitmap offering 1.3 only. */
export const CAPTURED_HELLO = {
  args: CAPTURED.gotoTable.args,
  hex: '04000010000000010001000800000010',
} as const satisfies CapturedFlowMod;

// What ovs-vswitchd 3.1.0 (same package, netdev bridge br-tun with fail_mode=secure, default
// protocols) wrote on <OVS_RUNDIR>/br-tun.mgmt, read with a raw unix socket client that sent our
// HELLO (1.3 only) and then, in one write, four flow_mods for table 1, priority 9, empty match:
//   xid 100 actions=set_field:2->arp_op   (no arp match)
//   xid 101 goto_table:0                  (backwards)
//   xid 102 actions=pop_vlan              (no VLAN match)
//   xid 103 actions=output:0              (accepted!)
// and a BARRIER_REQUEST (xid 104).

/** vswitchd's HELLO: version 6 (1.5) and no bitmap, since it allows every version from 1.0 up. */
export const VSWITCHD_HELLO = '0600000800000001';

/** Its answer to the four flow_mods and the barrier, as one read: three OFPT_ERRORs, the BARRIER_REPLY. */
export const VSWITCHD_REPLIES = '0401005c000000640002000a040e005000000064000000000000000000000000000000000100000000000009ffffffff'
  + 'ffffffffffffffff00000000000100040000000000040018000000000019001080002a0200020000000000000401004c'
  + '0000006500030002040e004000000065000000000000000000000000000000000100000000000009ffffffffffffffff'
  + 'ffffffff000000000001000400000000000100080000000004010054000000660002000a040e00480000006600000000'
  + '0000000000000000000000000100000000000009ffffffffffffffffffffffff00000000000100040000000000040010'
  + '0000000000120008000000000415000800000068';

export interface CapturedBundle {
  readonly args: readonly string[];
  /** ovs-ofctl's stdin, for `add-flows <socket> -`. */
  readonly input?: string;
  /** Every message after the HELLO, whole, in order. */
  readonly hex: readonly string[];
}

// ovs-ofctl --bundle with OpenFlow 1.3 (ONF EXT-230 messages), against the fake switch, which
// answers the bundle OPEN and COMMIT requests with their replies. ovs-ofctl encodes the flow_mods
// first (xids 2..), then opens bundle 0 (ATOMIC | ORDERED), adds each flow_mod whole in a
// BUNDLE_ADD with the flow_mod's own xid, sends a BARRIER (the adds' errors come before its reply)
// and commits.
export const CAPTURED_BUNDLES = {
  /** The gotoTable and drop flows of CAPTURED. */
  addFlows: {
    args: ofctl('--bundle', 'add-flows', SOCKET, '-'),
    input: 'table=0,priority=1,in_port=1,actions=goto_table:1\ntable=1,priority=0,cookie=0x4d524b0000000001,actions=drop\n',
    hex: [
      '04040018000000044f4e4600000008fc0000000000000003',
      '04040060000000024f4e4600000008fd0000000000000003040e004800000002000000000000000000000000000000000000000000000001ffffffffffff'
        + 'ffffffffffff000000000001000c8000000400000001000000000001000801000000',
      '04040050000000034f4e4600000008fd0000000000000003040e0038000000034d524b000000000100000000000000000100000000000000ffffffffffff'
        + 'ffffffffffff000000000001000400000000',
      '0414000800000005',
      '04040018000000064f4e4600000008fc0000000000040003',
    ],
  },
  /** Every flow of every table. */
  delFlows: {
    args: ofctl('--bundle', 'del-flows', SOCKET),
    hex: [
      '04040018000000034f4e4600000008fc0000000000000003',
      '04040050000000024f4e4600000008fd0000000000000003040e00380000000200000000000000000000000000000000ff03000000008000ffffffffffff'
        + 'ffffffffffff000000000001000400000000',
      '0414000800000004',
      '04040018000000054f4e4600000008fc0000000000040003',
    ],
  },
} as const satisfies Record<string, CapturedBundle>;
