// Machine-wide kernel settings a dense emulation needs. The IPv4 neighbour (ARP) table is shared
// by every network namespace of the machine, and its default hard limit (gc_thresh3 = 1024) is
// reached by 50 VMs pinging each other (50 x 49 entries): past it the kernel refuses new entries
// ("neighbor table overflow"), sends no ARP, and pings fail for no visible reason. The limits are
// raised, never lowered (another emulation or user may rely on them); what changed is returned so
// the caller can say so.
import { readFileSync, writeFileSync } from 'node:fs';

/** At least these (soft floor, soft limit, hard limit): room for ~250k neighbour entries. */
export const NEIGHBOUR_TABLE_MINIMUM: ReadonlyArray<readonly [string, number]> = [
  ['gc_thresh1', 8192],
  ['gc_thresh2', 65536],
  ['gc_thresh3', 262144],
];

const path = (key: string): string => `/proc/sys/net/ipv4/neigh/default/${key}`;

/** Raises the machine's IPv4 neighbour table limits where they are lower; returns "key old -> new" for each change. */
export function ensureNeighbourTable(minimum = NEIGHBOUR_TABLE_MINIMUM): string[] {
  const changed: string[] = [];
  for (const [key, want] of minimum) {
    const now = Number(readFileSync(path(key), 'utf8').trim());
    if (now >= want) continue;
    writeFileSync(path(key), String(want));
    changed.push(`net.ipv4.neigh.default.${key} ${now} -> ${want}`);
  }
  return changed;
}
