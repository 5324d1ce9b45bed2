// A handle on one network namespace: a netlink socket opened inside it (by the native addon, on a
// pool thread), through which every request reaches that namespace. No global default handle.
import { closeSync } from 'node:fs';
import { AF_INET, AF_NETLINK, ETHTOOL_STXCSUM, type KernelLane, NETLINK_ROUTE, NETNS_RUN_DIR, SOCK_DGRAM, SOCK_RAW, ethtoolSetValue, netnsCreate, netnsDelete, netnsEnter } from '@merak/native';
import { NetlinkSocket, type NetlinkSocketOptions } from '../netlink/index.js';
import { type Addr, addrAdd, addrDelete, addrList } from './addr.js';
import { type Link, type LinkChanges, type LinkRef, type VethOptions, linkAddVeth, linkDelete, linkGet, linkList, linkSet } from './link.js';
import { MerakError } from '@merak/common';
import { checkNamespaceName } from './namespace.js';
import { type Neigh, neighAdd, neighList } from './neigh.js';
import { type Route, type RouteSpec, routeAdd, routeAddDefault, routeList } from './route.js';
import { checkLinkName } from './validate.js';

export interface NetnsOpenOptions extends NetlinkSocketOptions {
  /**
   * Also open, in the same native call, what ioctls and links need: an AF_INET socket inside the
   * namespace (for txChecksum) and an fd on the namespace itself (`fd`, for IFLA_NET_NS_FD).
   */
  readonly devices?: boolean;
}

export interface NetnsCreateOptions extends NetnsOpenOptions {
  /** Written inside the new namespace before the handle is returned, e.g. ['net.ipv6.conf.default.addr_gen_mode', '1']. */
  readonly sysctls?: Array<[string, string]>;
}

const NETLINK_SOCKET: [number, number, number] = [AF_NETLINK, SOCK_RAW, NETLINK_ROUTE];
const INET_SOCKET: [number, number, number] = [AF_INET, SOCK_DGRAM, 0];

/** What to open inside: the netlink socket, and with `devices` an AF_INET socket and the namespace fd. */
function insideWork(options: NetnsOpenOptions): { sockets: Array<[number, number, number]>; namespaceFd: boolean } {
  return options.devices ? { sockets: [NETLINK_SOCKET, INET_SOCKET], namespaceFd: true } : { sockets: [NETLINK_SOCKET], namespaceFd: false };
}

export class NetnsHandle {
  private closed = false;

  private constructor(
    /** The namespace file this handle talks to, e.g. /run/netns/X or /proc/self/ns/net. */
    readonly path: string,
    /** The socket, for requests this API does not cover (or a NetlinkBatch-style recording of them). */
    readonly netlink: NetlinkSocket,
    /** An fd on the namespace itself (opened with `devices`), e.g. for a veth peer created inside it. */
    readonly fd: number | undefined,
    private readonly inetFd: number | undefined,
    private readonly lane: KernelLane | undefined,
  ) {}

  /** ioctls queued on the lane; the socket they use closes only after them. */
  private ioctls: Promise<unknown> = Promise.resolve();

  /** A handle on an existing namespace, e.g. /run/netns/X, or /proc/self/ns/net for our own. */
  static async open(path: string, options: NetnsOpenOptions = {}): Promise<NetnsHandle> {
    const fds = await netnsEnter(path, insideWork(options));
    return NetnsHandle.fromFds(path, fds, options);
  }

  /** Equivalent to: ip netns add NAME (+ sysctls inside); the sockets are opened in the same native call. */
  static async create(name: string, options: NetnsCreateOptions = {}): Promise<NetnsHandle> {
    checkNamespaceName('name', name);
    const work = { sysctls: options.sysctls ?? [], ...insideWork(options) };
    const fds = await (options.lane ? options.lane.netnsCreate(name, work) : netnsCreate(name, work));
    try {
      return NetnsHandle.fromFds(`${NETNS_RUN_DIR}/${name}`, fds, options);
    } catch (e) {
      // Do not leave a namespace behind that nobody holds a handle on.
      await netnsDelete([name]);
      throw e;
    }
  }

  private static fromFds(path: string, fds: number[], options: NetnsOpenOptions): NetnsHandle {
    const [netlinkFd, inetFd, nsFd] = fds;
    try {
      return new NetnsHandle(path, NetlinkSocket.fromFd(netlinkFd!, options), nsFd, inetFd, options.lane);
    } catch (e) {
      for (const fd of [inetFd, nsFd]) if (fd !== undefined) closeSync(fd);
      throw e;
    }
  }

  /** Rejects whatever is still pending and closes the sockets and fds; the namespace itself stays. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.netlink.close();
    if (this.fd !== undefined) closeSync(this.fd);
    const inetFd = this.inetFd;
    if (inetFd !== undefined) void this.ioctls.finally(() => closeSync(inetFd));
  }

  // Equivalent to: ethtool -K IFNAME tx on|off   (needs a handle opened with `devices`)
  async txChecksum(ifname: string, on: boolean): Promise<void> {
    checkLinkName('ifname', ifname);
    if (this.inetFd === undefined || this.closed) throw new MerakError('NETNS', `txChecksum ${ifname}: the handle on ${this.path} has no ioctl socket (open it with devices: true)`);
    if (this.lane === undefined) {
      ethtoolSetValue(this.inetFd, ifname, ETHTOOL_STXCSUM, on ? 1 : 0);
      return;
    }
    const done = this.lane.ethtoolSetValue(this.inetFd, ifname, ETHTOOL_STXCSUM, on ? 1 : 0);
    this.ioctls = this.ioctls.then(() => done).catch(() => undefined);
    await done;
  }

  // Equivalent to: ip link add NAME type veth peer name PEER [netns NS] [index I] …
  linkAddVeth(options: VethOptions): Promise<void> {
    return linkAddVeth(this.netlink, options);
  }

  // Equivalent to: ip link show dev REF
  linkGet(ref: LinkRef): Promise<Link | undefined> {
    return linkGet(this.netlink, ref);
  }

  // Equivalent to: ip link show
  linkList(): Promise<Link[]> {
    return linkList(this.netlink);
  }

  // Equivalent to: ip link set dev REF [up|down] [address] [mtu] [alias] [netns] [name] [addrgenmode none]
  linkSet(ref: LinkRef, changes: LinkChanges): Promise<void> {
    return linkSet(this.netlink, ref, changes);
  }

  // Equivalent to: ip link del dev REF
  linkDelete(ref: LinkRef): Promise<void> {
    return linkDelete(this.netlink, ref);
  }

  // Equivalent to: ip addr add IP/PREFIX dev IFINDEX
  addrAdd(ifindex: number, ip: string, prefixLength: number): Promise<void> {
    return addrAdd(this.netlink, ifindex, ip, prefixLength);
  }

  // Equivalent to: ip addr del IP/PREFIX dev IFINDEX
  addrDelete(ifindex: number, ip: string, prefixLength: number): Promise<void> {
    return addrDelete(this.netlink, ifindex, ip, prefixLength);
  }

  // Equivalent to: ip addr show [dev IFINDEX]
  addrList(ifindex?: number): Promise<Addr[]> {
    return addrList(this.netlink, ifindex);
  }

  // Equivalent to: ip route add default via GATEWAY [dev IFINDEX]
  routeAddDefault(gateway: string, ifindex?: number): Promise<void> {
    return routeAddDefault(this.netlink, gateway, ifindex);
  }

  // Equivalent to: ip route add DST/PREFIX [via GATEWAY] [dev IFINDEX]
  routeAdd(spec: RouteSpec): Promise<void> {
    return routeAdd(this.netlink, spec);
  }

  // Equivalent to: ip -4 route show table main
  routeList(): Promise<Route[]> {
    return routeList(this.netlink);
  }

  // Equivalent to: ip neigh add IP lladdr MAC dev IFINDEX nud permanent
  neighAdd(ifindex: number, ip: string, mac: string): Promise<void> {
    return neighAdd(this.netlink, ifindex, ip, mac);
  }

  // Equivalent to: ip neigh show
  neighList(): Promise<Neigh[]> {
    return neighList(this.netlink);
  }
}
