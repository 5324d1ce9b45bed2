// When each port became ovn-installed, seen from outside the modes: one OVSDB monitor per vhost on
// Interface (name, external_ids), the same observer for every mode. The time is the key's
// ovn-installed-ts (ovn-controller's wall clock when it set the key) when there is one, else when
// the update arrived here. Only the ovn-installed key counts: ovn-installed-ts outlives it.
import { OvsdbClient, type OvsdbJson, fromOvsMap } from '@merak/common';
import { wallMs } from './stop.js';

interface Seen {
  at: number;
  fromTs: boolean;
  vhost: number;
}

export class InstalledWatch {
  private readonly clients: OvsdbClient[] = [];
  /** iface-id -> first time seen installed, in the current expectation */
  private readonly installed = new Map<string, Seen>();
  private expected = new Map<string, number>();
  /** per vhost: Interface row uuid -> iface-id, of rows that exist now */
  private readonly present: Array<Map<string, string>> = [];
  private waiters: Array<() => void> = [];
  /** Ports seen installed on a vhost other than theirs. */
  readonly misplaced: string[] = [];
  /** A monitor's connection was lost (its view went stale). */
  lost: string | undefined;

  private readonly installedNow: Array<Set<string>> = [];
  private closing = false;

  private constructor() {}

  static async start(dbSockets: readonly string[]): Promise<InstalledWatch> {
    const w = new InstalledWatch();
    try {
      for (const [vhost, socket] of dbSockets.entries()) {
        const c = await OvsdbClient.connect(`unix:${socket}`, { timeoutMs: 10_000 });
        w.clients.push(c);
        w.present.push(new Map());
        c.onClose((e) => {
          if (!w.closing) w.lost ??= `the monitor of vhost ${vhost}: ${e.message}`;
          w.wake();
        });
        await c.monitor(`bench-installed-${vhost}`, { Interface: { columns: ['name', 'external_ids'] } }, (u) => w.onUpdate(vhost, u));
      }
    } catch (e) {
      w.close();
      throw e;
    }
    return w;
  }

  /** From now on: these iface-ids, each on its vhost (earlier sightings are forgotten). */
  expect(ports: ReadonlyArray<{ lsp: string; vhost: number }>): void {
    this.installed.clear();
    this.misplaced.length = 0;
    this.expected = new Map(ports.map((p) => [p.lsp, p.vhost]));
    // Already installed (should not be: a fresh run's names are new): counts as seen now.
    for (const [vhost, rows] of this.present.entries()) for (const id of rows.values()) if (this.expected.has(id) && this.isInstalledNow(vhost, id)) this.note(vhost, id, wallMs(), false);
  }

  private isInstalledNow(vhost: number, id: string): boolean {
    return this.installedNow[vhost]?.has(id) ?? false;
  }

  installedAt(lsp: string): number | undefined {
    return this.installed.get(lsp)?.at;
  }

  get count(): number {
    return this.installed.size;
  }

  /** How many installed times came from ovn-installed-ts (the rest: the update's arrival). */
  get fromTs(): number {
    let n = 0;
    for (const s of this.installed.values()) if (s.fromTs) n++;
    return n;
  }

  /** iface-ids with `prefix` that have an Interface on some vhost now. */
  presentWith(prefix: string): string[] {
    return this.present.flatMap((rows) => [...rows.values()].filter((id) => id.startsWith(prefix)));
  }

  /** Resolves at the next update (or after `ms`). */
  changed(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private note(vhost: number, id: string, at: number, fromTs: boolean): void {
    if (this.installed.has(id)) return;
    if (this.expected.get(id) !== vhost) this.misplaced.push(`${id} on vhost ${vhost} (expected ${this.expected.get(id)})`);
    this.installed.set(id, { at, fromTs, vhost });
  }

  private onUpdate(vhost: number, update: OvsdbJson): void {
    const arrived = wallMs();
    const rows = (update as { Interface?: Record<string, { new?: { external_ids?: OvsdbJson } }> } | null)?.Interface ?? {};
    const present = this.present[vhost]!;
    const now = (this.installedNow[vhost] ??= new Set());
    for (const [uuid, change] of Object.entries(rows)) {
      const old = present.get(uuid);
      if (!change.new) {
        if (old !== undefined) now.delete(old);
        present.delete(uuid);
        continue;
      }
      const ids = fromOvsMap(change.new.external_ids);
      const id = ids['iface-id'];
      if (id === undefined) {
        present.delete(uuid);
        continue;
      }
      present.set(uuid, id);
      if (ids['ovn-installed'] !== 'true') {
        now.delete(id);
        continue;
      }
      now.add(id);
      if (!this.expected.has(id)) continue;
      const ts = Number(ids['ovn-installed-ts']);
      // A ts from before the key (left from an earlier install) or from the future is not this install's.
      const fromTs = Number.isFinite(ts) && ts > 0 && ts <= arrived + 5;
      this.note(vhost, id, fromTs ? ts : arrived, fromTs);
    }
    this.wake();
  }

  close(): void {
    this.closing = true;
    for (const c of this.clients) c.close();
    this.wake();
  }
}
