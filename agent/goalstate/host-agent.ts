// The agent as Alcor's host agent: applies GoalState messages one at a time, in the order subnets,
// ports, neighbors, then DHCP, routers and security groups (recorded, not enforced), and answers
// with a status per resource the way Alcor's agent does (docs/goalstate.md). A port whose OVS port
// does not exist yet is PENDING and programmed by a background retry once it appears; the VM
// create path waits on `programmed`.
import { alcor } from '@merak/proto';
import type { Logger } from 'pino';
import { errorMessage } from '@merak/common';
import type { PortProgrammed, PortProgramming } from '../vm/port-programming.js';
import type { GoalStateDataPlane, GoalStateNeighbor, GoalStateNeighborKey } from './contracts.js';
import type { Decoded, DhcpGoal, GoalStateMessage, PortGoal, RouterGoal, SecurityGroupGoal } from './decode.js';
import { tapOf } from './decode.js';
import { GoalStateTimeoutError } from './errors.js';

const { OperationStatus: Status } = alcor;
type OperationStatus = alcor.GoalStateOperationReply_GoalStateOperationStatus;

/** What the host agent counts (agent/metrics). */
export interface GoalStateMetrics {
  message(version: 'v1' | 'v2', empty: boolean): void;
  resource(type: string, op: string, status: string): void;
  programmingSeconds(seconds: number): void;
}

export interface PendingRetry {
  /** Delays between attempts: doubling from `firstMs` up to `maxMs`. */
  readonly firstMs: number;
  readonly maxMs: number;
  /** Attempts before giving up (Alcor's agent: 300 at 1 s, about 5 minutes). */
  readonly attempts: number;
}

export interface HostAgentOptions {
  readonly dataPlane: GoalStateDataPlane;
  readonly logger: Logger;
  readonly metrics?: GoalStateMetrics;
  readonly pendingRetry?: PendingRetry;
}

interface PortRecord {
  /** '' for a port recovered from OVS (its full id is not recorded there). */
  portId: string;
  vni: number;
  state: 'applied' | 'pending' | 'gave-up';
  receivedAtMs: number;
  appliedAtMs: number;
  retry?: NodeJS.Timeout;
}

interface Waiter {
  readonly portId: string;
  readonly sinceMs: number;
  resolve(p: PortProgrammed): void;
}

/** Everything the host agent holds, for Info, tests and logs. */
export interface HostAgentSnapshot {
  readonly ports: ReadonlyArray<{ tap: string; portId: string; vni: number; state: PortRecord['state'] }>;
  readonly neighbors: readonly GoalStateNeighbor[];
  readonly dhcp: number;
  readonly routers: number;
  readonly securityGroups: number;
  readonly subnets: number;
  readonly vpcs: number;
}

const DEFAULT_RETRY: PendingRetry = { firstMs: 50, maxMs: 1000, attempts: 300 };
const micros = (t0: bigint): number => Math.min(0xffffffff, Number((process.hrtime.bigint() - t0) / 1000n));
const key = (k: GoalStateNeighborKey): string => `${k.vni}/${k.ip}`;

export class GoalStateHostAgent implements PortProgramming {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly ports = new Map<string, PortRecord>();
  private readonly neighbors = new Map<string, GoalStateNeighbor>();
  private readonly dhcp = new Map<string, DhcpGoal>();
  private readonly routers = new Map<string, RouterGoal>();
  private readonly securityGroups = new Map<string, SecurityGroupGoal>();
  private readonly subnets = new Map<string, number>();
  private readonly vpcs = new Set<string>();
  private readonly waiters = new Set<Waiter>();
  /** Neighbors recovered at start that no message has confirmed yet (see resync). */
  private unconfirmed: Set<string> | undefined;
  private closed = false;
  private readonly retry: PendingRetry;

  constructor(private readonly opts: HostAgentOptions) {
    this.retry = opts.pendingRetry ?? DEFAULT_RETRY;
  }

  /** Takes back what an earlier run applied (from OVS), before the first message. */
  async recover(): Promise<void> {
    const got = await this.opts.dataPlane.recover();
    for (const p of got.ports) this.ports.set(p.tap, { portId: '', vni: p.vni, state: 'applied', receivedAtMs: 0, appliedAtMs: 0 });
    for (const n of got.neighbors) this.neighbors.set(key(n), n);
    if (got.ports.length + got.neighbors.length > 0) this.opts.logger.info({ ports: got.ports.length, neighbors: got.neighbors.length }, 'GoalState recovered from OVS');
  }

  /** Applies one message (after those before it) and builds the reply. */
  apply(message: GoalStateMessage, receivedAtMs = Date.now()): Promise<alcor.GoalStateOperationReply> {
    const run = this.queue.then(() => this.applyNow(message, receivedAtMs));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async applyNow(m: GoalStateMessage, receivedAtMs: number): Promise<alcor.GoalStateOperationReply> {
    const t0 = process.hrtime.bigint();
    const statuses: OperationStatus[] = [];
    for (const id of m.vpcs) this.vpcs.add(id);
    for (const [id, s] of m.subnets) this.subnets.set(id, s.vni);
    for (const [id, reason] of m.badSubnets) this.opts.logger.warn({ subnet: id, reason }, 'GoalState subnet state invalid');
    for (const p of m.ports) statuses.push(await this.applyPort(p, receivedAtMs));
    statuses.push(...(await this.applyNeighbors(m, m.ports.some((p) => p.goal?.op === 'delete'))));
    for (const d of m.dhcp) statuses.push(this.record(d, (g) => this.applyDhcp(g, d.id)));
    for (const r of m.routers) statuses.push(this.record(r, (g) => (g.op === 'delete' ? this.routers.delete(r.id) : this.routers.set(r.id, g))));
    for (const g of m.securityGroups) {
      // Recorded, never reported (Alcor's agent ignores security groups and sends no status for them).
      if (g.problem) this.problem(g, g.problem.reason);
      else if (g.goal.op === 'delete') this.securityGroups.delete(g.id);
      else this.securityGroups.set(g.id, g.goal);
    }
    const total = micros(t0);
    this.opts.metrics?.message(m.version, m.empty);
    this.opts.metrics?.programmingSeconds(total / 1e6);
    for (const s of statuses) this.opts.metrics?.resource(alcor.resourceTypeToJSON(s.resourceType), alcor.operationTypeToJSON(s.operationType), alcor.operationStatusToJSON(s.operationStatus));
    if (!m.empty) {
      this.opts.logger.info({
        version: m.version, ports: m.ports.length, neighbors: m.neighbors.length, dhcp: m.dhcp.length, routers: m.routers.length,
        notSuccess: statuses.filter((s) => s.operationStatus !== Status.SUCCESS).length, micros: total,
      }, 'GoalState applied');
    }
    return { formatVersion: 0, operationStatuses: statuses, messageTotalOperationTime: total };
  }

  private status(d: { id: string; type: alcor.ResourceType; op: alcor.OperationType }, status: alcor.OperationStatus, programming: number, t0: bigint): OperationStatus {
    return {
      resourceId: d.id, resourceType: d.type, operationType: d.op, operationStatus: status,
      dataplaneProgrammingTime: programming, networkConfigurationTime: 0, stateElapseTime: micros(t0),
    };
  }

  private problem(d: { id: string; type: alcor.ResourceType; op: alcor.OperationType }, reason: string): void {
    this.opts.logger.warn({ resource: alcor.resourceTypeToJSON(d.type), id: d.id, operation: d.op, reason }, 'GoalState resource not applied');
  }

  /** A resource that is only recorded (DHCP, router): its status is its validation's. */
  private record<T>(d: Decoded<T>, apply: (goal: T) => unknown): OperationStatus {
    const t0 = process.hrtime.bigint();
    if (d.problem) {
      this.problem(d, d.problem.reason);
      return this.status(d, d.problem.status, 0, t0);
    }
    apply(d.goal);
    return this.status(d, Status.SUCCESS, 0, t0);
  }

  /**
   * DHCP entries are kept by MAC. A CREATE of one already there succeeds (Alcor's agent fails it,
   * which only makes a re-push after a restart look like an error); an UPDATE of a missing one adds it.
   */
  private applyDhcp(g: DhcpGoal, id: string): void {
    if (g.op === 'delete') this.dhcp.delete(g.mac);
    else this.dhcp.set(g.mac, g);
    this.opts.logger.debug({ dhcp: id, mac: g.mac, op: g.op }, 'DHCP entry recorded');
  }

  private async applyPort(d: Decoded<PortGoal>, receivedAtMs: number): Promise<OperationStatus> {
    const t0 = process.hrtime.bigint();
    if (d.problem) {
      this.problem(d, d.problem.reason);
      return this.status(d, d.problem.status, 0, t0);
    }
    const g = d.goal;
    const known = this.ports.get(g.tap);
    if (known?.retry) clearTimeout(known.retry);
    const p0 = process.hrtime.bigint();
    try {
      if (g.op === 'delete') {
        await this.opts.dataPlane.detachPort(g.tap);
        this.ports.delete(g.tap);
        return this.status(d, Status.SUCCESS, micros(p0), t0);
      }
      const outcome = await this.opts.dataPlane.attachPort(g.tap, g.vni);
      const record: PortRecord = { portId: d.id, vni: g.vni, state: outcome === 'attached' ? 'applied' : 'pending', receivedAtMs, appliedAtMs: Date.now() };
      this.ports.set(g.tap, record);
      if (outcome === 'attached') {
        this.programmedNow(g.tap, record);
        return this.status(d, Status.SUCCESS, micros(p0), t0);
      }
      this.opts.logger.info({ port: d.id, tap: g.tap }, 'GoalState port PENDING: no OVS port of that name yet, retrying in the background');
      this.scheduleRetry(g.tap, record, 0);
      return this.status(d, Status.PENDING, micros(p0), t0);
    } catch (e) {
      this.problem(d, errorMessage(e));
      return this.status(d, Status.FAILURE, micros(p0), t0);
    }
  }

  /** PENDING: tries again (serially with messages) until the OVS port appears, or gives up. */
  private scheduleRetry(tap: string, record: PortRecord, attempt: number): void {
    if (this.closed) return;
    if (attempt >= this.retry.attempts) {
      record.state = 'gave-up';
      this.opts.logger.warn({ port: record.portId, tap, attempts: attempt }, 'GoalState port never appeared in OVS: gave up');
      return;
    }
    const delay = Math.min(this.retry.maxMs, this.retry.firstMs * 2 ** Math.min(attempt, 20));
    record.retry = setTimeout(() => {
      record.retry = undefined;
      const run = this.queue.then(async () => {
        if (this.ports.get(tap) !== record || this.closed) return;
        try {
          if ((await this.opts.dataPlane.attachPort(tap, record.vni)) === 'attached') {
            record.state = 'applied';
            record.appliedAtMs = Date.now();
            this.opts.logger.info({ port: record.portId, tap, attempts: attempt + 1 }, 'GoalState PENDING port programmed');
            this.programmedNow(tap, record);
            return;
          }
        } catch (e) {
          this.opts.logger.warn({ port: record.portId, tap, err: errorMessage(e) }, 'GoalState PENDING port: attempt failed');
        }
        this.scheduleRetry(tap, record, attempt + 1);
      });
      this.queue = run.catch(() => undefined);
    }, delay);
    record.retry.unref();
  }

  private programmedNow(tap: string, record: PortRecord): void {
    for (const w of this.waiters) {
      if (tapOf(w.portId) !== tap || record.portId !== w.portId || record.receivedAtMs < w.sinceMs) continue;
      this.waiters.delete(w);
      w.resolve({ receivedAtMs: record.receivedAtMs, appliedAtMs: record.appliedAtMs });
    }
  }

  /** The VNIs this host has a GoalState port in (applied or pending). */
  private localVnis(): Set<number> {
    return new Set([...this.ports.values()].map((p) => p.vni));
  }

  /**
   * Neighbors matter only to a host with a port in their VNI (they are how its VMs reach the
   * others). So a neighbor of a VNI without a local port is not programmed, and when a VNI loses
   * its last local port its neighbors go: Alcor's NCM stops pushing to a host once it has no bound
   * port in the subnet, so without this the neighbors (and tunnels) it holds would stay for good.
   */
  private async applyNeighbors(m: GoalStateMessage, portsDeleted: boolean): Promise<OperationStatus[]> {
    const t0 = process.hrtime.bigint();
    const upsert = new Map<string, GoalStateNeighbor>();
    const remove = new Map<string, GoalStateNeighborKey>();
    const local = this.localVnis();
    if (portsDeleted) for (const [k, n] of this.neighbors) if (!local.has(n.vni)) remove.set(k, { vni: n.vni, ip: n.ip });
    let unused = 0;
    const applied: Array<Decoded<unknown>> = [];
    const out: OperationStatus[] = [];
    for (const d of m.neighbors) {
      if (d.problem) {
        this.problem(d, d.problem.reason);
        out.push(this.status(d, d.problem.status, 0, t0));
        continue;
      }
      applied.push(d);
      for (const e of d.goal.entries) {
        // A neighbor on this host: its port is local, br-int delivers to it.
        if (this.opts.dataPlane.isLocal(e.hostIp)) continue;
        const k = key(e);
        this.unconfirmed?.delete(k);
        if (d.goal.op === 'upsert') {
          if (!local.has(e.vni)) {
            unused++;
            continue;
          }
          remove.delete(k);
          upsert.set(k, e);
        } else if (this.neighbors.get(k)?.mac === e.mac || upsert.get(k)?.mac === e.mac) {
          // Only the neighbor named: the address may since belong to another port.
          upsert.delete(k);
          if (this.neighbors.has(k)) remove.set(k, { vni: e.vni, ip: e.ip });
        }
      }
    }
    if (unused > 0) this.opts.logger.debug({ neighbors: unused }, 'GoalState neighbors of VNIs without a local port: not programmed');
    let status: alcor.OperationStatus = Status.SUCCESS;
    const p0 = process.hrtime.bigint();
    if (upsert.size + remove.size > 0) {
      try {
        await this.opts.dataPlane.updateNeighbors([...upsert.values()], [...remove.values()]);
        for (const k of remove.keys()) this.neighbors.delete(k);
        for (const [k, e] of upsert) this.neighbors.set(k, e);
      } catch (e) {
        status = Status.FAILURE;
        this.opts.logger.warn({ err: errorMessage(e), upsert: upsert.size, remove: remove.size }, 'GoalState neighbors not applied');
      }
    }
    const programming = micros(p0);
    // v2: Alcor's agent reports no status for neighbors; a failure is still worth telling.
    if (m.version === 'v1' || status !== Status.SUCCESS) for (const d of applied) out.push(this.status(d, status, programming, t0));
    return out;
  }

  /**
   * After a restart the state recovered from OVS may be stale (a delete pushed while this agent was
   * down never arrived). Between this call and the returned function, every neighbor a message
   * names is confirmed; the function removes the others (call it once the NCM has re-pushed).
   */
  beginResync(): (confirmed: boolean) => Promise<number> {
    this.unconfirmed = new Set(this.neighbors.keys());
    return (confirmed) => {
      const run = this.queue.then(async () => {
        const stale = confirmed ? [...(this.unconfirmed ?? [])] : [];
        this.unconfirmed = undefined;
        const keys = stale.map((k) => this.neighbors.get(k)).filter((n): n is GoalStateNeighbor => n !== undefined);
        if (keys.length === 0) return 0;
        await this.opts.dataPlane.updateNeighbors([], keys.map((n) => ({ vni: n.vni, ip: n.ip })));
        for (const k of stale) this.neighbors.delete(k);
        this.opts.logger.info({ removed: keys.length }, 'stale GoalState neighbors removed after the NCM re-pushed');
        return keys.length;
      });
      this.queue = run.catch(() => undefined);
      return run;
    };
  }

  programmed(portId: string, opts: { sinceMs: number; timeoutMs: number; signal?: AbortSignal }): Promise<PortProgrammed> {
    const record = this.ports.get(tapOf(portId));
    if (record && record.portId === portId && record.state === 'applied' && record.receivedAtMs >= opts.sinceMs) {
      return Promise.resolve({ receivedAtMs: record.receivedAtMs, appliedAtMs: record.appliedAtMs });
    }
    return new Promise<PortProgrammed>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        this.waiters.delete(waiter);
      };
      const waiter: Waiter = { portId, sinceMs: opts.sinceMs, resolve: (p) => { done(); resolve(p); } };
      const fail = (): void => {
        done();
        const r = this.ports.get(tapOf(portId));
        const detail = !r || r.portId !== portId || r.receivedAtMs < opts.sinceMs
          ? 'no GoalState for it reached this host'
          : r.state === 'pending' ? `its GoalState is PENDING: OVS has no port ${tapOf(portId)}`
            : r.state === 'gave-up' ? `its OVS port ${tapOf(portId)} never appeared` : 'not applied';
        reject(new GoalStateTimeoutError(portId, opts.timeoutMs, detail));
      };
      const onAbort = (): void => fail();
      const timer = setTimeout(fail, opts.timeoutMs);
      this.waiters.add(waiter);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  snapshot(): HostAgentSnapshot {
    return {
      ports: [...this.ports].map(([tap, r]) => ({ tap, portId: r.portId, vni: r.vni, state: r.state })),
      neighbors: [...this.neighbors.values()],
      dhcp: this.dhcp.size, routers: this.routers.size, securityGroups: this.securityGroups.size, subnets: this.subnets.size, vpcs: this.vpcs.size,
    };
  }

  /** Stops the background retries; messages in flight finish. */
  async close(): Promise<void> {
    this.closed = true;
    for (const r of this.ports.values()) if (r.retry) clearTimeout(r.retry);
    await this.queue;
  }
}
