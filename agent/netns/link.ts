// Links: types and operations. Each operation sends at once, so callers pipeline by starting
// several and awaiting them together.
import { InvalidArgumentError } from '@merak/common';
import {
  ERRNO, IFF, IN6_ADDR_GEN_MODE, type IfInfoMessage, type LinkAttributes, NLM_F, NetlinkError, type NetlinkMessage,
  type NetlinkRequester, OPERSTATES, type OperState, RTEXT_FILTER, RTM, isNotFound,
} from '../netlink/index.js';
import { checkAlias, checkFd, checkIndex, checkLinkName, checkMac, checkMtu } from './validate.js';

/** A link as read from the kernel. */
export interface Link {
  readonly index: number;
  readonly name: string;
  /** IFF_* flags. */
  readonly flags: number;
  /** Administratively up (IFF_UP). */
  readonly up: boolean;
  readonly operstate: OperState;
  readonly mtu: number | undefined;
  readonly mac: string | undefined;
  /** IFLA_IFALIAS. */
  readonly alias: string | undefined;
  /** IFLA_INFO_KIND, e.g. 'veth'; undefined for lo and physical devices. */
  readonly kind: string | undefined;
  /** IFLA_LINK: parent, or a veth's peer (an ifindex in the namespace given by linkNetnsId). */
  readonly parentIndex: number | undefined;
  /** IFLA_LINK_NETNSID: set when the peer/parent lives in another namespace. */
  readonly linkNetnsId: number | undefined;
  readonly masterIndex: number | undefined;
  /** IN6_ADDR_GEN_MODE_*; undefined when IPv6 is off on the link. */
  readonly addrGenMode: number | undefined;
}

/** A link by name or ifindex. */
export type LinkRef = string | number;

export interface VethOptions {
  readonly name: string;
  readonly peerName: string;
  /** Create the peer directly in the namespace this fd refers to (caller-owned, e.g. openSync('/run/netns/X', 'r')). */
  readonly peerNetnsFd?: number;
  /** The link's ifindex; the kernel picks one when absent. */
  readonly index?: number;
  /**
   * The peer's ifindex (in its namespace). Needs `index` too: the kernel ignores it otherwise. (A
   * fresh namespace numbers its first device 2 anyway, lo being 1.)
   */
  readonly peerIndex?: number;
  /** Both ends, unless peerMtu is given (the kernel does not copy it to the peer). */
  readonly mtu?: number;
  readonly peerMtu?: number;
  readonly mac?: string;
  readonly peerMac?: string;
  readonly alias?: string;
  /** Only when the peer stays in this namespace (it cannot be reached by name elsewhere). */
  readonly peerAlias?: string;
}

export interface LinkChanges {
  readonly up?: boolean;
  readonly mac?: string;
  readonly mtu?: number;
  readonly alias?: string;
  /** Move the link to the namespace this fd refers to (caller-owned). */
  readonly netnsFd?: number;
  /** Rename (applied in the target namespace when moving). */
  readonly newName?: string;
  /** No IPv6 link-local address, hence no DAD/RS/MLD from this link. */
  readonly addrGenModeNone?: boolean;
}

function describe(ref: LinkRef): string {
  return typeof ref === 'number' ? `ifindex ${ref}` : ref;
}

function checkRef(field: string, ref: LinkRef): void {
  if (typeof ref === 'number') checkIndex(field, ref);
  else checkLinkName(field, ref);
}

/** The ifinfomsg index and attributes that identify `ref` in a request. */
function identify(ref: LinkRef): { index: number; ifname?: string } {
  return typeof ref === 'number' ? { index: ref } : { index: 0, ifname: ref };
}

export function linkFromMessage(m: IfInfoMessage): Link {
  const a = m.attrs;
  return {
    index: m.index,
    name: a.ifname ?? '',
    flags: m.flags,
    up: (m.flags & IFF.UP) !== 0,
    operstate: OPERSTATES[a.operstate ?? 0] ?? 'unknown',
    mtu: a.mtu,
    mac: a.address,
    alias: a.alias,
    kind: a.linkInfo?.kind,
    parentIndex: a.link,
    linkNetnsId: a.linkNetnsId,
    masterIndex: a.master,
    addrGenMode: a.addrGenMode,
  };
}

const links = (msgs: NetlinkMessage[]): Link[] =>
  msgs.filter((m): m is IfInfoMessage => m.kind === 'link' && m.header.type === RTM.NEWLINK).map(linkFromMessage);

// Equivalent to: ip link add NAME [index I] [mtu M] [address MAC] type veth peer name PEER [netns NS] [index PI] [mtu M] [address PMAC]
export async function linkAddVeth(nl: NetlinkRequester, o: VethOptions): Promise<void> {
  checkLinkName('name', o.name);
  checkLinkName('peerName', o.peerName);
  if (o.peerNetnsFd !== undefined) checkFd('peerNetnsFd', o.peerNetnsFd);
  if (o.index !== undefined) checkIndex('index', o.index);
  if (o.peerIndex !== undefined) {
    checkIndex('peerIndex', o.peerIndex);
    // veth_newlink() copies the peer's ifi_index only when the link's own index is set; otherwise
    // it is silently ignored, so refuse rather than pretend.
    if (o.index === undefined) throw new InvalidArgumentError('peerIndex', 'the kernel applies a veth peer\'s ifindex only when index is set too');
  }
  if (o.mtu !== undefined) checkMtu('mtu', o.mtu);
  if (o.peerMtu !== undefined) checkMtu('peerMtu', o.peerMtu);
  if (o.mac !== undefined) checkMac('mac', o.mac);
  if (o.peerMac !== undefined) checkMac('peerMac', o.peerMac);
  if (o.alias !== undefined) checkAlias('alias', o.alias);
  if (o.peerAlias !== undefined) {
    checkAlias('peerAlias', o.peerAlias);
    if (o.peerNetnsFd !== undefined) {
      throw new InvalidArgumentError('peerAlias', 'cannot be set on a peer created in another namespace; set it through that namespace\'s handle');
    }
  }
  const peerMtu = o.peerMtu ?? o.mtu;
  const peer: LinkAttributes = {
    ...(o.peerNetnsFd !== undefined && { netnsFd: o.peerNetnsFd }),
    ...(o.peerMac !== undefined && { address: o.peerMac }),
    ...(peerMtu !== undefined && { mtu: peerMtu }),
    ifname: o.peerName,
  };
  await nl.request({
    type: RTM.NEWLINK,
    flags: NLM_F.CREATE | NLM_F.EXCL,
    body: {
      kind: 'link',
      index: o.index ?? 0,
      attrs: {
        ...(o.mac !== undefined && { address: o.mac }),
        ...(o.mtu !== undefined && { mtu: o.mtu }),
        ifname: o.name,
        linkInfo: { kind: 'veth', peer: { family: 0, deviceType: 0, index: o.peerIndex ?? 0, flags: 0, change: 0, attrs: peer } },
      },
    },
  }, { expect: 'ack', object: o.name });
  // The kernel ignores IFLA_IFALIAS when creating a link, so it is set once the link exists (and
  // only then: on EEXIST it must not relabel someone else's link).
  const aliases: Promise<unknown>[] = [];
  if (o.alias !== undefined) aliases.push(linkSet(nl, o.name, { alias: o.alias }));
  if (o.peerAlias !== undefined) aliases.push(linkSet(nl, o.peerName, { alias: o.peerAlias }));
  await Promise.all(aliases);
}

// Equivalent to: ip link show dev NAME
export async function linkGet(nl: NetlinkRequester, ref: LinkRef): Promise<Link | undefined> {
  checkRef('link', ref);
  try {
    const msgs = await nl.request({
      type: RTM.GETLINK,
      body: { kind: 'link', index: identify(ref).index, attrs: { ...ifnameOf(ref), extMask: RTEXT_FILTER.SKIP_STATS } },
    }, { expect: 'reply', object: describe(ref) });
    return links(msgs)[0];
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

// Equivalent to: ip link show
export async function linkList(nl: NetlinkRequester): Promise<Link[]> {
  const msgs = await nl.request({ type: RTM.GETLINK, body: { kind: 'link', attrs: { extMask: RTEXT_FILTER.SKIP_STATS } } }, { expect: 'dump' });
  return links(msgs);
}

// Equivalent to: ip link set dev REF [up|down] [address MAC] [mtu M] [alias A] [netns NS] [name NEW] [addrgenmode none]
export async function linkSet(nl: NetlinkRequester, ref: LinkRef, changes: LinkChanges): Promise<void> {
  checkRef('link', ref);
  if (changes.mac !== undefined) checkMac('mac', changes.mac);
  if (changes.mtu !== undefined) checkMtu('mtu', changes.mtu);
  if (changes.alias !== undefined) checkAlias('alias', changes.alias);
  if (changes.netnsFd !== undefined) checkFd('netnsFd', changes.netnsFd);
  if (changes.newName !== undefined) checkLinkName('newName', changes.newName);
  let index = identify(ref).index;
  // IFLA_IFNAME either finds the link or renames it, not both: a rename needs the index.
  if (changes.newName !== undefined && typeof ref === 'string') {
    const link = await linkGet(nl, ref);
    if (link === undefined) throw new NetlinkError({ errno: ERRNO.ENODEV, requestType: 'RTM_GETLINK', object: ref });
    index = link.index;
  }
  const ifname = changes.newName ?? (index === 0 && typeof ref === 'string' ? ref : undefined);
  await nl.request({
    type: RTM.NEWLINK,
    body: {
      kind: 'link',
      index,
      flags: changes.up ? IFF.UP : 0,
      change: changes.up === undefined ? 0 : IFF.UP,
      attrs: {
        ...(changes.netnsFd !== undefined && { netnsFd: changes.netnsFd }),
        ...(changes.mac !== undefined && { address: changes.mac }),
        ...(changes.mtu !== undefined && { mtu: changes.mtu }),
        ...(changes.alias !== undefined && { alias: changes.alias }),
        ...(changes.addrGenModeNone && { addrGenMode: IN6_ADDR_GEN_MODE.NONE }),
        ...(ifname !== undefined && { ifname }),
      },
    },
  }, { expect: 'ack', object: describe(ref) });
}

// Equivalent to: ip link del dev REF
export async function linkDelete(nl: NetlinkRequester, ref: LinkRef): Promise<void> {
  checkRef('link', ref);
  await nl.request({ type: RTM.DELLINK, body: { kind: 'link', index: identify(ref).index, attrs: ifnameOf(ref) } }, {
    expect: 'ack', object: describe(ref),
  });
}

function ifnameOf(ref: LinkRef): { ifname?: string } {
  return typeof ref === 'string' ? { ifname: ref } : {};
}
