// rtnetlink numbers, taken from the kernel UAPI headers (linux/netlink.h, rtnetlink.h, if_link.h,
// if_addr.h, neighbour.h, veth.h, if.h) of the 6.x series. Only what the codec speaks.

export const NLMSG_ALIGNTO = 4;
export const NLMSG_HDRLEN = 16;
export const NLA_HDRLEN = 4;
/** Interface names are at most IFNAMSIZ - 1 bytes (the kernel keeps a NUL). */
export const IFNAMSIZ = 16;
/** Alias limit (IFALIASZ - 1). */
export const IFALIAS_MAX = 255;

export const NLM_F = {
  REQUEST: 0x01,
  MULTI: 0x02,
  ACK: 0x04,
  ECHO: 0x08,
  DUMP_INTR: 0x10,
  DUMP_FILTERED: 0x20,
  // GET modifiers
  ROOT: 0x100,
  MATCH: 0x200,
  ATOMIC: 0x400,
  DUMP: 0x300,
  // NEW modifiers
  REPLACE: 0x100,
  EXCL: 0x200,
  CREATE: 0x400,
  APPEND: 0x800,
  // DELETE modifiers
  NONREC: 0x100,
  BULK: 0x200,
  // ACK modifiers
  CAPPED: 0x100,
  ACK_TLVS: 0x200,
} as const;

export const NLMSG = {
  NOOP: 1,
  ERROR: 2,
  DONE: 3,
  OVERRUN: 4,
  MIN_TYPE: 0x10,
} as const;

export const NLMSGERR_ATTR = {
  MSG: 1,
  OFFS: 2,
  COOKIE: 3,
  POLICY: 4,
  MISS_TYPE: 5,
  MISS_NEST: 6,
} as const;

export const NLA_F_NESTED = 0x8000;
export const NLA_F_NET_BYTEORDER = 0x4000;
export const NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xffff;

export const RTM = {
  NEWLINK: 16,
  DELLINK: 17,
  GETLINK: 18,
  SETLINK: 19,
  NEWADDR: 20,
  DELADDR: 21,
  GETADDR: 22,
  NEWROUTE: 24,
  DELROUTE: 25,
  GETROUTE: 26,
  NEWNEIGH: 28,
  DELNEIGH: 29,
  GETNEIGH: 30,
} as const;

const RTM_NAMES = new Map<number, string>(Object.entries(RTM).map(([k, v]) => [v, `RTM_${k}`]));

/** 'RTM_NEWLINK' for 16; 'NLMSG_ERROR' and friends for control types; the number otherwise. */
export function messageTypeName(type: number): string {
  const rtm = RTM_NAMES.get(type);
  if (rtm !== undefined) return rtm;
  for (const [k, v] of Object.entries(NLMSG)) if (v === type) return `NLMSG_${k}`;
  return `type ${type}`;
}

export const AF = {
  UNSPEC: 0,
  INET: 2,
  INET6: 10,
} as const;

export const IFLA = {
  ADDRESS: 1,
  BROADCAST: 2,
  IFNAME: 3,
  MTU: 4,
  LINK: 5,
  MASTER: 10,
  TXQLEN: 13,
  OPERSTATE: 16,
  LINKMODE: 17,
  LINKINFO: 18,
  NET_NS_PID: 19,
  IFALIAS: 20,
  AF_SPEC: 26,
  GROUP: 27,
  NET_NS_FD: 28,
  EXT_MASK: 29,
  CARRIER: 33,
  LINK_NETNSID: 37,
  NEW_NETNSID: 45,
  TARGET_NETNSID: 46,
  NEW_IFINDEX: 49,
  ALT_IFNAME: 53,
} as const;

export const IFLA_INFO = {
  KIND: 1,
  DATA: 2,
  XSTATS: 3,
  SLAVE_KIND: 4,
  SLAVE_DATA: 5,
} as const;

export const VETH_INFO_PEER = 1;

export const IFLA_INET6 = {
  FLAGS: 1,
  CONF: 2,
  TOKEN: 7,
  ADDR_GEN_MODE: 8,
} as const;

export const IN6_ADDR_GEN_MODE = {
  EUI64: 0,
  NONE: 1,
  STABLE_PRIVACY: 2,
  RANDOM: 3,
} as const;

export const RTEXT_FILTER = {
  VF: 1 << 0,
  SKIP_STATS: 1 << 3,
} as const;

export const IFF = {
  UP: 1 << 0,
  BROADCAST: 1 << 1,
  LOOPBACK: 1 << 3,
  POINTOPOINT: 1 << 4,
  RUNNING: 1 << 6,
  NOARP: 1 << 7,
  PROMISC: 1 << 8,
  MULTICAST: 1 << 12,
  LOWER_UP: 1 << 16,
} as const;

/** RFC 2863 operational states (IFLA_OPERSTATE), in kernel order. */
export const OPERSTATES = ['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up'] as const;
export type OperState = (typeof OPERSTATES)[number];

export const IFA = {
  ADDRESS: 1,
  LOCAL: 2,
  LABEL: 3,
  BROADCAST: 4,
  ANYCAST: 5,
  CACHEINFO: 6,
  MULTICAST: 7,
  FLAGS: 8,
  RT_PRIORITY: 9,
  PROTO: 11,
} as const;

export const IFA_F = {
  SECONDARY: 0x01,
  NODAD: 0x02,
  TENTATIVE: 0x40,
  PERMANENT: 0x80,
  NOPREFIXROUTE: 0x200,
} as const;

export const RTA = {
  DST: 1,
  SRC: 2,
  IIF: 3,
  OIF: 4,
  GATEWAY: 5,
  PRIORITY: 6,
  PREFSRC: 7,
  METRICS: 8,
  MULTIPATH: 9,
  TABLE: 15,
  PREF: 20,
} as const;

export const RT_TABLE = {
  UNSPEC: 0,
  DEFAULT: 253,
  MAIN: 254,
  LOCAL: 255,
} as const;

export const RTPROT = {
  UNSPEC: 0,
  REDIRECT: 1,
  KERNEL: 2,
  BOOT: 3,
  STATIC: 4,
} as const;

export const RT_SCOPE = {
  UNIVERSE: 0,
  SITE: 200,
  LINK: 253,
  HOST: 254,
  NOWHERE: 255,
} as const;

export const RTN = {
  UNSPEC: 0,
  UNICAST: 1,
  LOCAL: 2,
  BROADCAST: 3,
  ANYCAST: 4,
  MULTICAST: 5,
  BLACKHOLE: 6,
  UNREACHABLE: 7,
  PROHIBIT: 8,
} as const;

export const NDA = {
  DST: 1,
  LLADDR: 2,
  CACHEINFO: 3,
  PROBES: 4,
  IFINDEX: 8,
  PROTOCOL: 12,
} as const;

export const NUD = {
  INCOMPLETE: 0x01,
  REACHABLE: 0x02,
  STALE: 0x04,
  DELAY: 0x08,
  PROBE: 0x10,
  FAILED: 0x20,
  NOARP: 0x40,
  PERMANENT: 0x80,
} as const;

/** Struct sizes (ifinfomsg, ifaddrmsg, rtmsg, ndmsg, nlmsgerr's error field). */
export const SIZEOF = {
  IFINFOMSG: 16,
  IFADDRMSG: 8,
  RTMSG: 12,
  NDMSG: 12,
} as const;
