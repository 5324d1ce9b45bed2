// The underlay: the interface that carries the tunnels, and the address that is this vhost's
// tunnel endpoint. On the userspace datapath OVS must own the uplink (docs/data-plane.md §1-2):
// the interface becomes a port of a netdev bridge (br-phy) and its IPv4 address moves to br-phy's
// internal interface, where OVS's native tunnelling finds the route and ARPs for remote VTEPs.
// On the kernel datapath the interface keeps its address. Idempotent: a restarted agent finds
// br-phy and the address in place and changes nothing.
import { netnsEnter } from '@merak/native';
import type { Logger } from 'pino';
import { InvalidArgumentError, MerakError, errorMessage } from '@merak/common';
import { IFF, RTN, RTPROT } from '../netlink/index.js';
import { type NetnsHandle, isExists } from '../netns/index.js';
import type { Vswitch } from '../vswitch/vswitch.js';

export const UPLINK_BRIDGE = 'br-phy';

export interface UnderlayConfig {
  /** The interface that carries the overlay (e.g. eth0). */
  readonly interface: string;
  readonly datapathType: 'system' | 'netdev';
  /** --underlay-ip, when given: the endpoint found must be this one. */
  readonly expectedIp: string | undefined;
}

export interface Underlay {
  /** The tunnel endpoint. */
  readonly ip: string;
  readonly prefixLength: number;
  /** The MAC of the device holding it: what answers ARP for `ip` (peers' static tunnel neighbor). */
  readonly mac: string;
  /** The device holding it: br-phy (netdev) or the interface itself (system). */
  readonly device: string;
  /** Readiness: the device is up, has carrier (vswitchd holds br-phy) and still has the address. */
  check(): Promise<void>;
}

type UplinkStore = Pick<Vswitch, 'ensureUplinkBridge'>;

async function waitForLink(host: NetnsHandle, name: string, timeoutMs: number): Promise<NonNullable<Awaited<ReturnType<NetnsHandle['linkGet']>>>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const link = await host.linkGet(name);
    if (link) return link;
    if (Date.now() > deadline) throw new MerakError('TIMEOUT', `ovs-vswitchd did not create ${name} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Picks the endpoint among `addrs`: the expected one if given (else it is an error), or the first. */
function endpoint(addrs: ReadonlyArray<{ ip: string; prefixLength: number }>, device: string, cfg: UnderlayConfig): { ip: string; prefixLength: number } {
  if (addrs.length === 0) throw new InvalidArgumentError('--underlay-interface', `${cfg.interface} has no IPv4 address to use as the tunnel endpoint`);
  if (cfg.expectedIp === undefined) return addrs[0]!;
  const match = addrs.find((a) => a.ip === cfg.expectedIp);
  if (!match) {
    throw new InvalidArgumentError('--underlay-ip', `${cfg.expectedIp} disagrees with the underlay: ${device} has ${addrs.map((a) => `${a.ip}/${a.prefixLength}`).join(', ')}`);
  }
  return match;
}

export async function ensureUnderlay(host: NetnsHandle, vswitch: UplinkStore, cfg: UnderlayConfig, logger: Logger): Promise<Underlay> {
  const iface = await host.linkGet(cfg.interface);
  if (!iface) throw new InvalidArgumentError('--underlay-interface', `no interface ${cfg.interface} in the agent's network namespace`);
  const v4 = async (ifindex: number): Promise<Array<{ ip: string; prefixLength: number }>> =>
    (await host.addrList(ifindex)).filter((a) => a.family === 4).map((a) => ({ ip: a.ip, prefixLength: a.prefixLength }));

  if (cfg.datapathType === 'system') {
    const ep = endpoint(await v4(iface.index), cfg.interface, cfg);
    logger.info({ interface: cfg.interface, underlayIp: ep.ip }, 'underlay ready (kernel datapath)');
    return { ...ep, mac: iface.mac ?? '', device: cfg.interface, check: () => checkDevice(host, cfg.interface, ep.ip) };
  }

  // The endpoint is decided before anything changes: a wrong --underlay-ip touches nothing.
  const existingPhy = await host.linkGet(UPLINK_BRIDGE);
  const candidates = [...(existingPhy ? await v4(existingPhy.index) : []), ...(await v4(iface.index))];
  const chosen = endpoint(candidates, existingPhy ? `${cfg.interface} and ${UPLINK_BRIDGE}` : cfg.interface, cfg);
  const bridgeChanged = await vswitch.ensureUplinkBridge(UPLINK_BRIDGE, cfg.interface, 'netdev');
  const phy = await waitForLink(host, UPLINK_BRIDGE, 10_000);
  const changes: string[] = bridgeChanged ? [`${cfg.interface} added to ${UPLINK_BRIDGE}`] : [];
  try {
    if (!iface.up) {
      await host.linkSet(iface.index, { up: true });
      changes.push(`${cfg.interface} up`);
    }
    if (!phy.up) {
      await host.linkSet(phy.index, { up: true });
      changes.push(`${UPLINK_BRIDGE} up`);
    }
    // Move every IPv4 address from the interface to br-phy, and the routes that went through it:
    // once it is an OVS port, the kernel must not use it (docs/data-plane.md §3.4).
    const onIface = await v4(iface.index);
    if (onIface.length > 0) {
      const routes = (await host.routeList()).filter((r) => r.ifindex === iface.index && r.protocol !== RTPROT.KERNEL && r.type === RTN.UNICAST);
      const onPhy = new Set((await v4(phy.index)).map((a) => `${a.ip}/${a.prefixLength}`));
      for (const a of onIface) {
        if (!onPhy.has(`${a.ip}/${a.prefixLength}`)) await host.addrAdd(phy.index, a.ip, a.prefixLength);
        await host.addrDelete(iface.index, a.ip, a.prefixLength);
        changes.push(`${a.ip}/${a.prefixLength} moved from ${cfg.interface} to ${UPLINK_BRIDGE}`);
      }
      for (const r of routes) {
        await host.routeAdd({ dst: r.dst ?? '0.0.0.0', prefixLength: r.prefixLength, ifindex: phy.index, ...(r.gateway !== undefined && { gateway: r.gateway }) }).catch((e: unknown) => {
          if (!isExists(e)) throw e;
        });
        changes.push(`route ${r.dst ?? 'default'}/${r.prefixLength} moved to ${UPLINK_BRIDGE}`);
      }
    }
  } catch (e) {
    throw new MerakError('NETLINK', `moving the underlay from ${cfg.interface} to ${UPLINK_BRIDGE}: ${errorMessage(e)}`, { cause: e });
  }
  const ep = (await v4(phy.index)).find((a) => a.ip === chosen.ip);
  if (!ep) throw new MerakError('NETLINK', `${chosen.ip} is not on ${UPLINK_BRIDGE} after moving it there`);
  // Nor may the kernel answer ARP on the interface: with arp_ignore 0 it answers a request for
  // br-phy's address from the interface's own MAC as well as br-phy does, and a peer's vswitchd
  // that snoops that reply sends its tunnels there, where nothing takes them (lost until the
  // entry is replaced or ages out). 1: answer only for addresses on the interface the request came in on.
  await netnsEnter(host.path, { sysctls: [[`net.ipv4.conf.${cfg.interface}.arp_ignore`, '1']] }).catch((e: unknown) => {
    logger.warn({ interface: cfg.interface, err: errorMessage(e) }, 'could not set arp_ignore on the underlay interface: peers may learn its MAC for the tunnel endpoint');
  });
  logger.info({ interface: cfg.interface, bridge: UPLINK_BRIDGE, underlayIp: ep.ip, changes }, changes.length > 0 ? 'underlay set up' : 'underlay already in place');
  // br-phy's MAC, read after vswitchd made it (it is the tap's own address).
  const mac = (await host.linkGet(UPLINK_BRIDGE))?.mac ?? phy.mac ?? '';
  return { ...ep, mac, device: UPLINK_BRIDGE, check: () => checkDevice(host, UPLINK_BRIDGE, ep.ip) };
}

async function checkDevice(host: NetnsHandle, device: string, ip: string): Promise<void> {
  const link = await host.linkGet(device);
  if (!link) throw new Error(`${device} is gone`);
  if (!link.up) throw new Error(`${device} is down`);
  // br-phy is a tap held by ovs-vswitchd: no carrier means vswitchd is not running.
  if ((link.flags & IFF.LOWER_UP) === 0) throw new Error(`${device} has no carrier${device === UPLINK_BRIDGE ? ' (is ovs-vswitchd running?)' : ''}`);
  if (!(await host.addrList(link.index)).some((a) => a.ip === ip)) throw new Error(`${device} no longer has ${ip}`);
}
