// Typed shapes of the rtnetlink messages we send and receive. The same body types serve both
// directions, so a request serialized and parsed back compares equal. Types only.

export interface NetlinkHeader {
  readonly length: number;
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  readonly pid: number;
}

/** IFLA_LINKINFO. */
export interface LinkInfo {
  /** IFLA_INFO_KIND, e.g. 'veth'. */
  readonly kind?: string;
  /** VETH_INFO_PEER inside IFLA_INFO_DATA: the peer's ifinfomsg and attributes. */
  readonly peer?: IfInfo;
  /** IFLA_INFO_DATA of other kinds, undecoded. */
  readonly data?: Buffer;
  readonly slaveKind?: string;
}

/** The IFLA_* attributes we read or write. */
export interface LinkAttributes {
  readonly ifname?: string;
  /** IFLA_ADDRESS as text (aa:bb:cc:dd:ee:ff). */
  readonly address?: string;
  readonly broadcast?: string;
  readonly mtu?: number;
  /** IFLA_LINK: the parent or, for a veth, the peer's ifindex (in the peer's namespace). */
  readonly link?: number;
  readonly master?: number;
  readonly txqlen?: number;
  readonly operstate?: number;
  readonly alias?: string;
  readonly linkInfo?: LinkInfo;
  /** IFLA_AF_SPEC / AF_INET6 / IFLA_INET6_ADDR_GEN_MODE. */
  readonly addrGenMode?: number;
  /** IFLA_NET_NS_FD: move to (or create in) the namespace this fd refers to. Requests only. */
  readonly netnsFd?: number;
  readonly netnsPid?: number;
  /** IFLA_LINK_NETNSID: the namespace (by id, as seen from here) where IFLA_LINK lives. */
  readonly linkNetnsId?: number;
  /** IFLA_EXT_MASK (RTEXT_FILTER_*). Requests only. */
  readonly extMask?: number;
  readonly carrier?: number;
  readonly altName?: string;
}

/** struct ifinfomsg + attributes. */
export interface IfInfo {
  readonly family: number;
  /** ifi_type (ARPHRD_*). */
  readonly deviceType: number;
  readonly index: number;
  readonly flags: number;
  readonly change: number;
  readonly attrs: LinkAttributes;
}

export interface AddrAttributes {
  readonly address?: string;
  readonly local?: string;
  readonly label?: string;
  readonly broadcast?: string;
  /** IFA_FLAGS (u32, supersedes ifa_flags). */
  readonly flags?: number;
}

/** struct ifaddrmsg + attributes. */
export interface IfAddr {
  readonly family: number;
  readonly prefixLength: number;
  readonly flags: number;
  readonly scope: number;
  readonly index: number;
  readonly attrs: AddrAttributes;
}

export interface RouteAttributes {
  readonly dst?: string;
  readonly src?: string;
  readonly gateway?: string;
  readonly oif?: number;
  readonly iif?: number;
  readonly priority?: number;
  readonly prefsrc?: string;
  /** RTA_TABLE (u32), needed for tables above 255. */
  readonly table?: number;
}

/** struct rtmsg + attributes. */
export interface Rt {
  readonly family: number;
  readonly dstLength: number;
  readonly srcLength: number;
  readonly tos: number;
  readonly table: number;
  readonly protocol: number;
  readonly scope: number;
  /** rtm_type (RTN_*). */
  readonly routeType: number;
  readonly flags: number;
  readonly attrs: RouteAttributes;
}

export interface NeighAttributes {
  readonly dst?: string;
  readonly lladdr?: string;
  readonly probes?: number;
}

/** struct ndmsg + attributes. */
export interface Nd {
  readonly family: number;
  readonly index: number;
  /** NUD_* */
  readonly state: number;
  /** NTF_* */
  readonly flags: number;
  readonly ndType: number;
  readonly attrs: NeighAttributes;
}

export interface IfInfoMessage extends IfInfo {
  readonly kind: 'link';
  readonly header: NetlinkHeader;
}

export interface IfAddrMessage extends IfAddr {
  readonly kind: 'addr';
  readonly header: NetlinkHeader;
}

export interface RtMessage extends Rt {
  readonly kind: 'route';
  readonly header: NetlinkHeader;
}

export interface NdMessage extends Nd {
  readonly kind: 'neigh';
  readonly header: NetlinkHeader;
}

/** Extended ACK attributes (NLMSGERR_ATTR_*). */
export interface ExtAck {
  readonly msg?: string;
  readonly offset?: number;
  readonly missingType?: number;
  readonly missingNest?: number;
}

/** NLMSG_ERROR. `errno` is positive (the kernel sends it negated); 0 is an ACK. */
export interface ErrorMessage {
  readonly kind: 'error';
  readonly header: NetlinkHeader;
  readonly errno: number;
  /** The header of the request this answers. */
  readonly request: NetlinkHeader;
  readonly extack: ExtAck | undefined;
}

/** NLMSG_DONE: the end of a dump; a non-zero errno means the dump failed part-way. */
export interface DoneMessage {
  readonly kind: 'done';
  readonly header: NetlinkHeader;
  readonly errno: number;
  readonly extack: ExtAck | undefined;
}

/** A type this codec does not decode (NLMSG_NOOP, RTM_NEWNSID, …): header and raw payload. */
export interface OtherMessage {
  readonly kind: 'other';
  readonly header: NetlinkHeader;
  readonly payload: Buffer;
}

export type NetlinkMessage = IfInfoMessage | IfAddrMessage | RtMessage | NdMessage | ErrorMessage | DoneMessage | OtherMessage;

/** What a request carries after its header; fields left out are zero. */
export type RequestBody =
  | ({ readonly kind: 'link' } & Partial<IfInfo>)
  | ({ readonly kind: 'addr' } & Partial<IfAddr>)
  | ({ readonly kind: 'route' } & Partial<Rt>)
  | ({ readonly kind: 'neigh' } & Partial<Nd>)
  | { readonly kind: 'raw'; readonly payload: Uint8Array };

/** A request before it has a sequence number. NLM_F_REQUEST is always added. */
export interface Request {
  readonly type: number;
  readonly flags?: number;
  readonly body: RequestBody;
}

/** What the caller waits for: an ACK, a dump up to NLMSG_DONE, or the reply messages then an ACK. */
export type Expect = 'ack' | 'dump' | 'reply';
