// Typed surface of the merak-native addon: network namespaces, sockets opened inside them, and a
// datagram socket polled by the libuv loop. Nothing here knows about VMs, netlink messages or OVS.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A failed syscall, shaped like Node's own fs errors. */
export interface SysError extends Error {
  code: string;
  errno: number;
  syscall: string;
  path?: string;
}

export function isSysError(e: unknown): e is SysError {
  return e instanceof Error && typeof (e as Partial<SysError>).errno === 'number' && typeof (e as Partial<SysError>).code === 'string';
}

/** Work done while a pool thread is inside a namespace. */
export interface InsideWork {
  /** sysctl keys in dotted form, e.g. ["net.ipv4.tcp_mtu_probing", "2"]. */
  sysctls?: Array<[string, string]>;
  /** sockets to open there: [domain, type, protocol]; returned as non-blocking, close-on-exec fds. */
  sockets?: Array<[number, number, number]>;
  /**
   * A TCP socket bound to ip:port and listening (after the sockets): a server outside the namespace
   * (net.Server.listen({ fd })) accepts the connections made to it there. EADDRINUSE if taken.
   */
  listen?: { ip: string; port: number };
  /** Also return an fd on the namespace itself (after the sockets and the listener), e.g. for IFLA_NET_NS_FD. */
  namespaceFd?: boolean;
}

export interface NativeSocket {
  /** Sends one datagram; `to` is a netlink port id (0 = kernel) or an IPv4 address. */
  sendTo(data: Uint8Array, to: number | string): number;
  setsockopt(level: number, name: number, value: number): void;
  /** Binds a netlink socket to the given multicast groups; returns the port id. */
  bindNetlink(groups: number): number;
  ref(): void;
  unref(): void;
  close(): void;
}

/**
 * Kernel work run in the order it was queued, one batch at a time on a pool thread: the JS thread
 * never waits in the kernel (an rtnetlink request runs inside sendto, under the RTNL lock), and
 * the lane's own requests never contend with each other for that lock.
 */
export interface KernelLane {
  /** As netnsCreate, in the lane's order. */
  netnsCreate(name: string, work: InsideWork): Promise<number[]>;
  /** One datagram to the kernel (netlink port 0) on `socket`, which stays open until this settles; the bytes sent. */
  sendTo(socket: NativeSocket, data: Uint8Array): Promise<number>;
  /** As ethtoolSetValue; the caller keeps `fd` open until this settles. */
  ethtoolSetValue(fd: number, ifname: string, cmd: number, value: number): Promise<void>;
}

interface Addon {
  netnsCreate(name: string, work: InsideWork): Promise<number[]>;
  netnsEnter(path: string, work: InsideWork): Promise<number[]>;
  netnsDelete(names: string[]): Promise<Array<string | null>>;
  ethtoolSetValue(fd: number, ifname: string, cmd: number, value: number): void;
  Lane: new (maxBatch: number) => KernelLane;
  Socket: new (
    fd: number,
    onMessages: (messages: Buffer[], senders: Array<number | string | null>) => void,
    onError: (err: SysError) => void,
  ) => NativeSocket;
}

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'binding.gyp'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('merak-native: cannot find the package root (binding.gyp)');
    dir = parent;
  }
  return dir;
}

const addonPath = join(packageRoot(), 'build', 'Release', 'merak_native.node');
const addon = createRequire(import.meta.url)(addonPath) as Addon;

export const NETNS_RUN_DIR = '/run/netns';

/** Equivalent to `ip netns add NAME`, then `work` inside it. Rejects with EEXIST if it exists. */
export function netnsCreate(name: string, work: InsideWork = {}): Promise<number[]> {
  return addon.netnsCreate(name, work);
}

/** `work` inside an existing namespace, given a path such as /run/netns/NAME or /proc/PID/ns/net. */
export function netnsEnter(path: string, work: InsideWork): Promise<number[]> {
  return addon.netnsEnter(path, work);
}

/** Equivalent to `ip netns delete` for each name, in one pool task. One errno name (or null) per name. */
export function netnsDelete(names: string[]): Promise<Array<string | null>> {
  return addon.netnsDelete(names);
}

/** Wraps an fd (taking ownership) in a socket whose datagrams arrive in batches on the event loop. */
export function openSocket(
  fd: number,
  onMessages: (messages: Buffer[], senders: Array<number | string | null>) => void,
  onError: (err: SysError) => void,
): NativeSocket {
  return new addon.Socket(fd, onMessages, onError);
}

/** SIOCETHTOOL with a struct ethtool_value on a socket fd, in that socket's namespace (e.g. ETHTOOL_STXCSUM). */
export function ethtoolSetValue(fd: number, ifname: string, cmd: number, value: number): void {
  addon.ethtoolSetValue(fd, ifname, cmd, value);
}

/** A new lane; at most `maxBatch` jobs per pool visit, so results come back while the rest run. */
export function createKernelLane(options: { maxBatch?: number } = {}): KernelLane {
  return new addon.Lane(options.maxBatch ?? 32);
}

/** Linux constants the callers need. */
export const AF_INET = 2;
export const AF_NETLINK = 16;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
export const IPPROTO_ICMP = 1;
export const NETLINK_ROUTE = 0;
export const SOL_SOCKET = 1;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_SNDBUFFORCE = 32;
export const SO_RCVBUFFORCE = 33;
export const SOL_NETLINK = 270;
export const NETLINK_CAP_ACK = 10;
export const NETLINK_EXT_ACK = 11;
export const NETLINK_GET_STRICT_CHK = 12;
export const ETHTOOL_STXCSUM = 0x17;
/** Raw ICMP sockets: setsockopt(SOL_RAW, ICMP_FILTER, mask), a bit set per ICMP type to drop. */
export const SOL_RAW = 255;
export const ICMP_FILTER = 1;
