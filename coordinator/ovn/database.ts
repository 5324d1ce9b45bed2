// One connection to an OVN database (northbound or southbound) over the shared OVSDB client, that
// times every transaction into a scenario's CallStats and dials again after the connection was
// lost (the next call reconnects; a call is never repeated behind its caller's back: a write
// whose answer was lost may have committed, and only its caller knows how to look).
import { performance } from 'node:perf_hooks';
import { OvsdbClient, OvsdbError, type OvsdbJson, type OvsdbOperation, errorMessage } from '@merak/common';
import type { CallStats } from '../report/call-stats.js';

export type Json = OvsdbJson;
export type Operation = OvsdbOperation;

export interface TransactResult {
  readonly results: Json[];
  /** performance.now() when the transaction was sent and when its answer came */
  readonly sentAt: number;
  readonly answeredAt: number;
}

export class OvnDatabase {
  private client: Promise<OvsdbClient> | undefined;

  constructor(readonly endpoint: string, readonly database: 'OVN_Northbound' | 'OVN_Southbound', private readonly timeoutMs: number) {}

  /** One transaction, timed into `stats` as "`label`" and "all transactions". */
  async transact(ops: Operation[], stats: CallStats | undefined, label: string): Promise<TransactResult> {
    const sentAt = performance.now();
    let error = '';
    try {
      const client = await this.connected();
      const results = await client.transact(ops, this.timeoutMs);
      return { results, sentAt, answeredAt: performance.now() };
    } catch (e) {
      error = errorMessage(e);
      // An error of the transaction itself carries OVSDB's details; anything else may have left the connection unusable.
      if (!(e instanceof OvsdbError && e.details !== null)) this.drop();
      throw e;
    } finally {
      const micros = Math.round((performance.now() - sentAt) * 1000);
      stats?.add({ endpoint: `${this.short()} ${label}`, micros, status: 0, error });
      stats?.add({ endpoint: `${this.short()} all transactions`, micros, status: 0, error });
    }
  }

  /** The connection, for a monitor (the caller closes the database when it is done). */
  connected(): Promise<OvsdbClient> {
    if (!this.client) {
      const p = OvsdbClient.connect(this.endpoint, { database: this.database, timeoutMs: this.timeoutMs });
      this.client = p;
      p.catch(() => {
        if (this.client === p) this.client = undefined;
      });
    }
    return this.client;
  }

  /** Forgets the connection (the next call dials again). */
  drop(): void {
    const p = this.client;
    this.client = undefined;
    p?.then((c) => c.close(), () => undefined);
  }

  close(): void {
    this.drop();
  }

  private short(): string {
    return this.database === 'OVN_Northbound' ? 'NB' : 'SB';
  }
}

// --- OVSDB JSON helpers for the tables we write ---

export const uuid = (u: string): Json => ['uuid', u];
export const named = (n: string): Json => ['named-uuid', n];
export const set = (members: Json[]): Json => ['set', members];

/** external_ids includes every pair of `m`. */
export const idsInclude = (m: Readonly<Record<string, string>>): Json[] => ['external_ids', 'includes', ['map', Object.entries(m).map(([k, v]) => [k, v])]];

/** The uuid of a row from select results or an insert's answer. */
export function uuidOf(v: Json | undefined): string {
  if (Array.isArray(v) && v[0] === 'uuid' && typeof v[1] === 'string') return v[1];
  throw new OvsdbError(`expected a uuid, got ${JSON.stringify(v)}`);
}

/** The rows of a select's answer. */
export function rowsOf(result: Json | undefined): Array<Record<string, Json>> {
  const rows = (result as { rows?: unknown } | null)?.rows;
  return Array.isArray(rows) ? (rows as Array<Record<string, Json>>) : [];
}
