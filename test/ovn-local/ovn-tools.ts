// The OVN command-line tools as a user runs them against an emulation, parsed just enough for the
// tests' assertions (independent witnesses: none of this goes through the emulation's own code).
import { execFileSync } from 'node:child_process';

export const sh = (cmd: string, args: readonly string[]): string => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

export const nbctl = (db: string, ...args: string[]): string => sh('ovn-nbctl', [`--db=${db}`, '--timeout=10', ...args]);
export const sbctl = (db: string, ...args: string[]): string => sh('ovn-sbctl', [`--db=${db}`, '--timeout=10', ...args]);

export interface ShownChassis {
  readonly name: string;
  readonly hostname: string;
  readonly encaps: Array<{ type: string; ip: string }>;
  readonly ports: string[];
}

/** `ovn-sbctl show`, parsed: each Chassis with its hostname, Encaps and Port_Bindings. */
export function sbShow(db: string): ShownChassis[] {
  const out: ShownChassis[] = [];
  let current: ShownChassis | undefined;
  let encap: { type: string; ip: string } | undefined;
  for (const line of sbctl(db, 'show').split('\n')) {
    let m: RegExpExecArray | null;
    if ((m = /^Chassis "?([^"]+)"?$/.exec(line))) {
      current = { name: m[1]!, hostname: '', encaps: [], ports: [] };
      out.push(current);
    } else if (current && (m = /^\s+hostname: "?([^"]+)"?$/.exec(line))) {
      (current as { hostname: string }).hostname = m[1]!;
    } else if (current && (m = /^\s+Encap (\S+)$/.exec(line))) {
      encap = { type: m[1]!, ip: '' };
      current.encaps.push(encap);
    } else if (encap && (m = /^\s+ip: "?([^"]+)"?$/.exec(line))) {
      encap.ip = m[1]!;
    } else if (current && (m = /^\s+Port_Binding "?([^"]+)"?$/.exec(line))) {
      current.ports.push(m[1]!);
    }
  }
  return out;
}

/** Polls `check` until it returns a value (not undefined) or `timeoutMs` passes; then the last error. */
export async function eventually<T>(what: string, check: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not after ${timeoutMs} ms${last ? ` (${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
