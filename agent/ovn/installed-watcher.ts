// One OVSDB monitor per agent for OVN: which Interfaces ovn-controller marked ovn-installed, and
// where OVN's integration bridge is. VMs wait on it by port name (a waiter each, no poll per VM).
// Started on first use, so an agent that never hosts an OVN VM monitors nothing; a lost connection
// fails the waiters of the moment and the next use reconnects.
import type { Logger } from 'pino';
import { OvsdbError, type OvsdbJson as Json, type OvsdbClient, fromOvsMap, setMembers } from '@merak/common';
import { OvnInstallTimeoutError } from './errors.js';

/** The key ovn-controller sets on an Interface once the port's flows are installed (23.03). */
export const OVN_INSTALLED = 'ovn-installed';
/** What ovn-controller uses as its integration bridge when external_ids:ovn-bridge is unset. */
export const DEFAULT_OVN_BRIDGE = 'br-int';
const MONITOR_ID = 'merak-ovn-installed';

/** OVN's setup on this vhost as the monitor last saw it. */
export interface OvnIntegration {
  /** Open_vSwitch external_ids:ovn-bridge, or br-int. */
  readonly bridge: string;
  readonly bridgeExists: boolean;
  /** external_ids:ovn-remote is set (ovn-controller has a southbound to talk to). */
  readonly configured: boolean;
}

/** A port's wait for ovn-installed; registered before the port is added, so no update is missed. */
export interface InstallWait {
  /**
   * Resolves once the port is installed; rejects with OvnInstallTimeoutError once `timeoutMs` have
   * passed since the clock started, `elapsedMs` ago (the port's commit).
   */
  until(timeoutMs: number, ifaceId: string, elapsedMs?: number): Promise<void>;
  /** Forgets the wait (the VM was rolled back before it started). */
  cancel(): void;
}

interface Settle {
  resolve(): void;
  reject(e: Error): void;
}

class Waiter implements InstallWait {
  private installed = false;
  private failure: Error | undefined;
  private settle: Settle | undefined;
  private timer: NodeJS.Timeout | undefined;

  /** `stale`: Interface rows of this name that existed before the wait (an earlier port of the same name). */
  constructor(readonly name: string, readonly stale: ReadonlySet<string>, private readonly forget: (w: Waiter) => void) {}

  until(timeoutMs: number, ifaceId: string, elapsedMs = 0): Promise<void> {
    if (this.installed || this.failure) {
      this.forget(this);
      return this.failure ? Promise.reject(this.failure) : Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      this.settle = { resolve, reject };
      this.timer = setTimeout(() => this.fail(new OvnInstallTimeoutError(this.name, ifaceId, timeoutMs)), Math.max(0, timeoutMs - elapsedMs));
    });
  }

  markInstalled(): void {
    this.installed = true;
    this.finish()?.resolve();
  }

  fail(e: Error): void {
    this.failure ??= e;
    this.finish()?.reject(this.failure);
  }

  cancel(): void {
    clearTimeout(this.timer);
    this.settle = undefined;
    this.forget(this);
  }

  private finish(): Settle | undefined {
    const s = this.settle;
    if (!s) return undefined;
    clearTimeout(this.timer);
    this.settle = undefined;
    this.forget(this);
    return s;
  }
}

interface RowUpdate {
  old?: Record<string, Json>;
  new?: Record<string, Json>;
}
type TableUpdate = Record<string, RowUpdate>;

export class OvnInstalledWatcher {
  private client: OvsdbClient | undefined;
  private starting: Promise<void> | undefined;
  /** Interface uuid -> its name and whether it is installed. */
  private readonly interfaces = new Map<string, { name: string; installed: boolean }>();
  /** Interface name -> uuids (one, unless a port was re-made under its name). */
  private readonly byName = new Map<string, Set<string>>();
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly bridges = new Map<string, string>();
  private system: Record<string, string> = {};
  private closed = false;

  /** `connect`: a fresh connection to this vhost's Open_vSwitch database. */
  constructor(private readonly connect: () => Promise<OvsdbClient>, private readonly logger: Logger) {}

  /** Where OVN's bridge is and whether ovn-controller is configured, from the monitor's view. */
  async integration(): Promise<OvnIntegration> {
    await this.start();
    const bridge = this.system['ovn-bridge'] || DEFAULT_OVN_BRIDGE;
    return { bridge, bridgeExists: [...this.bridges.values()].includes(bridge), configured: (this.system['ovn-remote'] ?? '') !== '' };
  }

  /**
   * Registers a wait for port `name`. `fresh`: the port is about to be added, so rows of that name
   * already there (an earlier port not yet gone from the monitor's view) do not count; otherwise
   * (a VM found in place) the current row counts.
   */
  async expect(name: string, opts: { fresh: boolean }): Promise<InstallWait> {
    await this.start();
    const stale = new Set<string>();
    let installedNow = false;
    for (const uuid of this.byName.get(name) ?? []) {
      if (opts.fresh) stale.add(uuid);
      else if (this.interfaces.get(uuid)?.installed) installedNow = true;
    }
    const w = new Waiter(name, stale, (x) => this.forget(x));
    let set = this.waiters.get(name);
    if (!set) this.waiters.set(name, (set = new Set()));
    set.add(w);
    if (installedNow) w.markInstalled();
    return w;
  }

  /** The port's Interface carries ovn-installed="true" (as the monitor last saw it). */
  isInstalled(name: string): boolean {
    return [...(this.byName.get(name) ?? [])].some((uuid) => this.interfaces.get(uuid)?.installed === true);
  }

  /** Waits in progress (for tests and metrics). */
  get pending(): number {
    let n = 0;
    for (const s of this.waiters.values()) n += s.size;
    return n;
  }

  close(): void {
    this.closed = true;
    this.client?.close();
    this.client = undefined;
  }

  private start(): Promise<void> {
    if (this.closed) return Promise.reject(new OvsdbError('the OVN port watcher is closed'));
    if (this.client) return Promise.resolve();
    this.starting ??= this.open().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  private async open(): Promise<void> {
    const client = await this.connect();
    client.onClose((e) => this.lost(client, e));
    this.interfaces.clear();
    this.byName.clear();
    this.bridges.clear();
    try {
      await client.monitor(MONITOR_ID, {
        Interface: { columns: ['name', 'external_ids'] },
        Bridge: { columns: ['name'] },
        Open_vSwitch: { columns: ['external_ids'] },
      }, (u) => this.onUpdate(u));
    } catch (e) {
      client.close();
      throw e;
    }
    if (this.closed) {
      client.close();
      return;
    }
    this.client = client;
    this.logger.debug({ interfaces: this.interfaces.size }, 'OVN port monitor started');
  }

  private lost(client: OvsdbClient, e: Error): void {
    if (this.client !== client) return;
    this.client = undefined;
    if (!this.closed) this.logger.warn({ err: e.message }, 'OVN port monitor lost its OVSDB connection');
    const why = new OvsdbError(`the OVSDB connection watching for ovn-installed was lost: ${e.message}`);
    for (const set of this.waiters.values()) for (const w of [...set]) w.fail(why);
  }

  private forget(w: Waiter): void {
    const set = this.waiters.get(w.name);
    set?.delete(w);
    if (set?.size === 0) this.waiters.delete(w.name);
  }

  private drop(uuid: string, name: string | undefined): void {
    this.interfaces.delete(uuid);
    if (name === undefined) return;
    const uuids = this.byName.get(name);
    uuids?.delete(uuid);
    if (uuids?.size === 0) this.byName.delete(name);
  }

  private onUpdate(update: Json): void {
    const u = (update ?? {}) as Record<string, TableUpdate | undefined>;
    for (const r of Object.values(u.Open_vSwitch ?? {})) this.system = r.new ? fromOvsMap(r.new.external_ids) : {};
    for (const [uuid, r] of Object.entries(u.Bridge ?? {})) {
      const name = setMembers(r.new?.name)[0];
      if (!r.new) this.bridges.delete(uuid);
      else if (typeof name === 'string') this.bridges.set(uuid, name);
    }
    for (const [uuid, r] of Object.entries(u.Interface ?? {})) {
      const prev = this.interfaces.get(uuid);
      if (!r.new) {
        this.drop(uuid, prev?.name);
        continue;
      }
      const name = typeof r.new.name === 'string' ? r.new.name : prev?.name;
      if (name === undefined) continue;
      if (prev && prev.name !== name) this.drop(uuid, prev.name);
      let uuids = this.byName.get(name);
      if (!uuids) this.byName.set(name, (uuids = new Set()));
      uuids.add(uuid);
      // Monitor v1 sends every monitored column in `new`; an absent external_ids keeps what we had.
      const installed = r.new.external_ids === undefined ? (prev?.installed ?? false) : fromOvsMap(r.new.external_ids)[OVN_INSTALLED] === 'true';
      this.interfaces.set(uuid, { name, installed });
      if (!installed) continue;
      for (const w of [...(this.waiters.get(name) ?? [])]) if (!w.stale.has(uuid)) w.markInstalled();
    }
  }
}
