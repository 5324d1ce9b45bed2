// The emulation's underlay on this machine: a Linux bridge in the root namespace with no address
// (the root namespace's routing stays untouched) and one veth per vhost, `eth0` inside the vhost's
// namespace with its underlay address. Set up with iproute2: this is the launcher, not the agent.
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { formatIpv4, networkOf, parseIpv4 } from '@merak/common';

/** TEST-NET ranges (RFC 5737), in the order a default is picked. */
export const TEST_NETS = ['198.51.100.0/24', '203.0.113.0/24', '192.0.2.0/24'] as const;

export interface Cidr {
  readonly network: number;
  readonly prefixLength: number;
  readonly text: string;
}

export function parseCidr(text: string): Cidr | undefined {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d{1,2})$/.exec(text);
  const ip = m ? parseIpv4(m[1]!) : undefined;
  const len = m ? Number(m[2]) : NaN;
  if (ip === undefined || !(len >= 8 && len <= 30) || networkOf(ip, len) !== ip) return undefined;
  return { network: ip, prefixLength: len, text };
}

const overlaps = (a: Cidr, b: { network: number; prefixLength: number }): boolean => {
  const len = Math.min(a.prefixLength, b.prefixLength);
  return networkOf(a.network, len) === networkOf(b.network, len);
};

/** The root namespace's IPv4 routes (all tables), default routes left out (they cover everything). */
export function rootRoutes(): Array<{ dst: string; network: number; prefixLength: number; dev: string }> {
  const routes = JSON.parse(execFileSync('ip', ['-4', '-j', 'route', 'show', 'table', 'all'], { encoding: 'utf8' }) || '[]') as Array<{ dst: string; dev?: string }>;
  const out: Array<{ dst: string; network: number; prefixLength: number; dev: string }> = [];
  for (const r of routes) {
    if (r.dst === 'default') continue;
    const [addr = '', len = '32'] = r.dst.split('/');
    const ip = parseIpv4(addr);
    if (ip === undefined) continue;
    out.push({ dst: r.dst, network: networkOf(ip, Number(len)), prefixLength: Number(len), dev: r.dev ?? '' });
  }
  return out;
}

/** The CIDR asked for (refused if it overlaps a root route), or the first TEST-NET that overlaps none. */
export function chooseUnderlay(requested: string | undefined): Cidr {
  const routes = rootRoutes();
  const clash = (c: Cidr): string | undefined => {
    const r = routes.find((route) => overlaps(c, route));
    return r && `${r.dst} dev ${r.dev}`;
  };
  if (requested !== undefined) {
    const c = parseCidr(requested);
    if (!c) throw new Error(`underlayCidr: '${requested}' is not an IPv4 network (a.b.c.d/8..30, no host bits)`);
    const r = clash(c);
    if (r) throw new Error(`underlayCidr: ${requested} overlaps the root namespace's route ${r}; pick a range this machine does not use`);
    return c;
  }
  for (const t of TEST_NETS) {
    const c = parseCidr(t)!;
    if (!clash(c)) return c;
  }
  throw new Error(`underlayCidr: every TEST-NET range (${TEST_NETS.join(', ')}) overlaps a route of the root namespace; give one explicitly`);
}

/** The i-th vhost's underlay address (network + 1 + i). */
export function underlayAddress(c: Cidr, i: number): string {
  const hosts = 2 ** (32 - c.prefixLength) - 2;
  if (i >= hosts) throw new Error(`underlayCidr: ${c.text} has room for ${hosts} vhosts, not ${i + 1}`);
  return formatIpv4((c.network + 1 + i) >>> 0);
}

/** This machine's own address on the underlay (the last one of the range), when it takes one. */
export function hostUnderlayAddress(c: Cidr): string {
  return formatIpv4((c.network + 2 ** (32 - c.prefixLength) - 2) >>> 0);
}

/** Gives the bridge (the root namespace) an address on the underlay, so vhosts reach this machine's services. */
export function addBridgeAddress(bridge: string, address: string, prefixLength: number): void {
  ip('addr', 'add', `${address}/${prefixLength}`, 'dev', bridge);
  // What this machine sends the vhosts reaches their userspace datapath with its checksum left to
  // the hardware (none): OVS passes it on unfinished and the vhost drops it. Ping works, TCP hangs.
  execFileSync('ethtool', ['-K', bridge, 'tx', 'off'], { stdio: 'ignore' });
}

const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** No IPv6 on a root-namespace link of ours: no link-local address, hence no fe80::/64 route in the root namespace. */
function noIpv6(link: string): void {
  const f = `/proc/sys/net/ipv6/conf/${link}/disable_ipv6`;
  if (existsSync(f)) writeFileSync(f, '1');
}

export function linkExists(name: string, netns?: string): boolean {
  try {
    ip(...(netns ? ['-n', netns] : []), 'link', 'show', 'dev', name);
    return true;
  } catch {
    return false;
  }
}

/** Equivalent to: ip link add NAME type bridge; (no IPv6); ip link set NAME up */
export function createUnderlayBridge(name: string): void {
  ip('link', 'add', name, 'type', 'bridge');
  noIpv6(name);
  ip('link', 'set', name, 'up');
}

/** A veth from the bridge into the vhost: `eth0` inside, with `address/prefixLength`, up. */
export function connectVhost(bridge: string, hostEnd: string, netns: string, address: string, prefixLength: number): void {
  ip('link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns);
  noIpv6(hostEnd);
  ip('link', 'set', hostEnd, 'master', bridge, 'up');
  ip('-n', netns, 'link', 'set', 'lo', 'up');
  ip('-n', netns, 'addr', 'add', `${address}/${prefixLength}`, 'dev', 'eth0');
  ip('-n', netns, 'link', 'set', 'eth0', 'up');
}

/** Equivalent to: ip link del NAME (absent is fine); resolves to whether it existed. */
export function deleteLink(name: string): boolean {
  if (!linkExists(name)) return false;
  ip('link', 'del', name);
  return true;
}
