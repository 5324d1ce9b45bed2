// Underlay neighbours of tunnel endpoints in ovs-vswitchd's userspace datapath (`ovs-appctl
// tnl/neigh/*`): without one, vswitchd drops tunnel packets to a peer until it has ARPed for it.
//
// What OVS 3.1 does (lib/tnl-neigh-cache.c, and tried on 3.1.0):
// - No command deletes one entry: list-commands offers only tnl/neigh/{set,show,flush,aging} (and
//   the tnl/arp/* aliases). Removing one = flush, then set the others again; in between those peers
//   have no entry (their tunnel packets are dropped while vswitchd ARPs).
// - There are no static entries. `set` makes the same entry ARP/ND snooping makes, and show has no
//   STATIC/DYNAMIC column: the entry ages out after `tnl/neigh/aging` seconds (default 900, 1..3600)
//   unless a flow using it keeps it fresh, and a snooped ARP reply or NA from that IP on that bridge
//   replaces its MAC. To keep one, set it again within the aging time (same MAC: only the expiry moves).
// - `flush` takes no bridge and drops every entry of every bridge; deleting a bridge drops its own.
// - Entries are keyed by (IP, bridge). `set` does not check that the bridge exists and cuts its name
//   to 15 bytes; it wants a literal IPv4/IPv6 address and a colon-separated MAC.
import { isIP } from 'node:net';
import { InvalidArgumentError, MerakError } from '@merak/common';

/** What these helpers need from a control-socket client; UnixctlClient is one. */
export interface UnixctlCaller {
  call(method: string, params: readonly string[]): Promise<string>;
}

export interface TunnelNeighbor {
  /** As vswitchd prints it: dotted IPv4, compressed IPv6. */
  ip: string;
  /** Lower case, colon-separated. */
  mac: string;
  bridge: string;
  /** Past its aging time but not yet purged (show appends "STALE"). */
  stale: boolean;
}

/** tnl/neigh/show printed something this parser does not know (the format changed). */
export class TunnelNeighborFormatError extends MerakError {
  constructor(readonly line: string) {
    super('OVSDB', `tnl/neigh/show: unexpected line ${JSON.stringify(line)}`, { context: { line } });
  }
}

const MAC = /^[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}$/;
const IFNAMSIZ = 16;

/** Equivalent to `ovs-appctl tnl/neigh/set <bridge> <ip> <mac>`; replaces that IP's entry on that bridge. */
export async function setTunnelNeighbor(client: UnixctlCaller, bridge: string, ip: string, mac: string): Promise<void> {
  // Checked here because vswitchd would silently truncate a long bridge name.
  const bytes = Buffer.byteLength(bridge);
  if (bytes === 0 || bytes >= IFNAMSIZ) throw new InvalidArgumentError('bridge', `must be 1 to ${IFNAMSIZ - 1} bytes, got ${JSON.stringify(bridge)}`);
  if (isIP(ip) === 0) throw new InvalidArgumentError('ip', `not an IPv4 or IPv6 address: ${JSON.stringify(ip)}`);
  if (!MAC.test(mac)) throw new InvalidArgumentError('mac', `not a colon-separated MAC: ${JSON.stringify(mac)}`);
  await client.call('tnl/neigh/set', [bridge, ip, mac]);
}

/** Equivalent to `ovs-appctl tnl/neigh/flush`: every entry of every bridge, set or learnt. */
export async function flushTunnelNeighbors(client: UnixctlCaller): Promise<void> {
  await client.call('tnl/neigh/flush', []);
}

/** Equivalent to `ovs-appctl tnl/neigh/show`. */
export async function listTunnelNeighbors(client: UnixctlCaller): Promise<TunnelNeighbor[]> {
  return parseTunnelNeighbors(await client.call('tnl/neigh/show', []));
}

// An entry line: the IP padded to 46 columns, the MAC, three spaces, the bridge, maybe " STALE".
const ENTRY = /^(\S+) +([0-9a-f]{2}(?::[0-9a-f]{2}){5}) {3}(\S.*?)( STALE)?$/;

/** Parses tnl/neigh/show output (OVS 3.1): a header line, a line of '=', then one line per entry. */
export function parseTunnelNeighbors(text: string): TunnelNeighbor[] {
  const lines = text.split('\n');
  if (!/^IP +MAC +Bridge$/.test(lines[0] ?? '')) throw new TunnelNeighborFormatError(lines[0] ?? '');
  if (!/^=+$/.test(lines[1] ?? '')) throw new TunnelNeighborFormatError(lines[1] ?? '');
  const out: TunnelNeighbor[] = [];
  for (const line of lines.slice(2)) {
    if (line === '') continue;
    const m = ENTRY.exec(line);
    if (!m) throw new TunnelNeighborFormatError(line);
    out.push({ ip: m[1]!, mac: m[2]!, bridge: m[3]!, stale: m[4] !== undefined });
  }
  return out;
}
