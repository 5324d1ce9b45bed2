// Fault injection: rules matched by service, method and path, each with an action (added latency,
// an error status with Alcor's error JSON, or a dropped connection) and a limit (always, the first
// N matching calls, the first N of each endpoint, every Kth, or a seeded probability).
//
// A rule applies `before` processing (the default: the call changes nothing, as when Alcor is
// down or overloaded) or `after` it (Alcor did the work but the client saw an error, a late
// answer or a dead connection — what makes a blind retry dangerous). Rules are counted in the
// order requests arrive, so a given sequence of calls meets the same faults every run.
import { InvalidArgumentError } from '@merak/common';
import { ALCOR_SERVICES, type AlcorService } from './entities.js';
import type { AppliedFault } from './calls.js';
import { FaultBook, type LiveFaultRule, isRecord } from './fault-book.js';
import { seededRandom } from './random.js';

export type FaultPhase = 'before' | 'after';

export type FaultAction =
  /** Waits `ms` before processing (before) or before answering (after). */
  | { readonly kind: 'latency'; readonly ms: number }
  /** Answers `status` with Spring's error JSON; `message` defaults to naming the rule. */
  | { readonly kind: 'status'; readonly status: number; readonly message?: string }
  /** Destroys the socket without an answer: the client sees a reset connection. */
  | { readonly kind: 'drop' };

export type FaultLimit =
  | { readonly kind: 'always' }
  /** The first `n` matching calls. */
  | { readonly kind: 'first'; readonly n: number }
  /**
   * The first `n` matching calls of each endpoint (method and path template, e.g. each create and
   * each look-up once): "every call fails once" without a rule per endpoint.
   */
  | { readonly kind: 'first-per-endpoint'; readonly n: number }
  /** The kth, 2kth, 3kth… matching call. */
  | { readonly kind: 'every'; readonly k: number }
  /** Each matching call with probability `p`, drawn from a PRNG seeded with `seed`. */
  | { readonly kind: 'probability'; readonly p: number; readonly seed: number };

export interface FaultRuleSpec {
  /** Default: "fault-1", "fault-2"… */
  readonly id?: string;
  /** Only calls routed to this service (undefined: any). */
  readonly service?: AlcorService;
  /** HTTP method (undefined: any). */
  readonly method?: string;
  /**
   * Path pattern: `*` or `{name}` matches one segment, `**` any rest, e.g.
   * '/project/{p}/ports/{id}' or '/project/*\/ports/**'; or a RegExp (not over the control
   * endpoint). Undefined: any path. The query string is not part of the path.
   */
  readonly path?: string | RegExp;
  readonly action: FaultAction;
  /** Default 'before'. */
  readonly phase?: FaultPhase;
  /** Default { kind: 'always' }. */
  readonly limit?: FaultLimit;
}

/** A rule as listed: its spec with defaults filled in, and how often it matched and fired. */
export interface FaultRule {
  readonly id: string;
  readonly service: AlcorService | undefined;
  readonly method: string | undefined;
  readonly path: string | undefined;
  readonly action: FaultAction;
  readonly phase: FaultPhase;
  readonly limit: FaultLimit;
  readonly matched: number;
  readonly fired: number;
}

/** What the server does with one call. */
export interface FaultPlan {
  readonly beforeLatencyMs: number;
  readonly before: TerminalFault | undefined;
  readonly afterLatencyMs: number;
  readonly after: TerminalFault | undefined;
  readonly applied: readonly AppliedFault[];
}

export interface TerminalFault {
  readonly ruleId: string;
  readonly action: Exclude<FaultAction, { kind: 'latency' }>;
}

type FaultRuleSpecified = Omit<FaultRule, 'matched' | 'fired'>;

interface LiveRule extends LiveFaultRule<FaultRuleSpecified> {
  readonly regex: RegExp | undefined;
  /** first-per-endpoint: matching calls so far per endpoint. */
  readonly perEndpoint: Map<string, number>;
}

/** Path pattern → anchored RegExp (`*`/`{x}` one segment, `**` anything; a trailing / optional). */
function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      out += '.*';
      i++;
    } else if (c === '*') {
      out += '[^/]+';
    } else if (c === '{') {
      const end = glob.indexOf('}', i);
      if (end < 0) throw new InvalidArgumentError('path', `'${glob}' has an unclosed {`);
      out += '[^/]+';
      i = end;
    } else {
      out += c.replace(/[.+?^$()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${out}/?$`);
}

const isInt = (v: unknown, min: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min;

function checkAction(v: unknown): FaultAction {
  if (!isRecord(v)) throw new InvalidArgumentError('action', 'must be an object with a kind');
  switch (v.kind) {
    case 'latency':
      if (typeof v.ms !== 'number' || !Number.isFinite(v.ms) || v.ms < 0) throw new InvalidArgumentError('action.ms', 'must be a number of milliseconds ≥ 0');
      return { kind: 'latency', ms: v.ms };
    case 'status':
      if (!isInt(v.status, 400) || v.status > 599) throw new InvalidArgumentError('action.status', 'must be an HTTP error status, 400–599');
      if (v.message !== undefined && typeof v.message !== 'string') throw new InvalidArgumentError('action.message', 'must be a string');
      return v.message === undefined ? { kind: 'status', status: v.status } : { kind: 'status', status: v.status, message: v.message };
    case 'drop':
      return { kind: 'drop' };
    default:
      throw new InvalidArgumentError('action.kind', `'${String(v.kind)}' is not latency, status or drop`);
  }
}

/** Checks a limit given over the API; undefined is 'always'. Shared with the GoalState push faults. */
export function checkLimit(v: unknown): FaultLimit {
  if (v === undefined) return { kind: 'always' };
  if (!isRecord(v)) throw new InvalidArgumentError('limit', 'must be an object with a kind');
  switch (v.kind) {
    case 'always':
      return { kind: 'always' };
    case 'first':
    case 'first-per-endpoint':
      if (!isInt(v.n, 1)) throw new InvalidArgumentError('limit.n', 'must be an integer ≥ 1');
      return { kind: v.kind, n: v.n };
    case 'every':
      if (!isInt(v.k, 1)) throw new InvalidArgumentError('limit.k', 'must be an integer ≥ 1');
      return { kind: 'every', k: v.k };
    case 'probability':
      if (typeof v.p !== 'number' || !(v.p >= 0 && v.p <= 1)) throw new InvalidArgumentError('limit.p', 'must be a number in [0, 1]');
      if (!isInt(v.seed, 0)) throw new InvalidArgumentError('limit.seed', 'must be an integer ≥ 0');
      return { kind: 'probability', p: v.p, seed: v.seed };
    default:
      throw new InvalidArgumentError('limit.kind', `'${String(v.kind)}' is not always, first, first-per-endpoint, every or probability`);
  }
}

/**
 * Whether a rule whose limit is `limit` fires on its `matched`-th matching call (1-based; for
 * first-per-endpoint, the call's number among those of its endpoint).
 */
export function limitFires(limit: FaultLimit, matched: number, random: (() => number) | undefined): boolean {
  switch (limit.kind) {
    case 'always': return true;
    case 'first':
    case 'first-per-endpoint': return matched <= limit.n;
    case 'every': return matched % limit.k === 0;
    case 'probability': return random!() / 2 ** 32 < limit.p;
  }
}

export class Faults extends FaultBook<FaultRuleSpecified, LiveRule> {
  constructor() {
    super('fault');
  }

  /** Adds a rule (checked: a bad field throws InvalidArgumentError naming it); returns it as listed. */
  add(spec: FaultRuleSpec): FaultRule {
    const s: unknown = spec;
    if (!isRecord(s)) throw new InvalidArgumentError('rule', 'must be an object');
    const id = this.takeId(s.id);
    if (s.service !== undefined && !ALCOR_SERVICES.includes(s.service as AlcorService)) {
      throw new InvalidArgumentError('service', `'${String(s.service)}' is not one of ${ALCOR_SERVICES.join(', ')}`);
    }
    if (s.method !== undefined && (typeof s.method !== 'string' || s.method === '')) throw new InvalidArgumentError('method', 'must be an HTTP method');
    if (s.path !== undefined && typeof s.path !== 'string' && !(s.path instanceof RegExp)) throw new InvalidArgumentError('path', 'must be a pattern string or a RegExp');
    if (s.phase !== undefined && s.phase !== 'before' && s.phase !== 'after') throw new InvalidArgumentError('phase', `'${String(s.phase)}' is neither before nor after`);
    const action = checkAction(s.action);
    const limit = checkLimit(s.limit);
    const path = s.path as string | RegExp | undefined;
    const live: LiveRule = {
      rule: {
        id,
        service: s.service as AlcorService | undefined,
        method: (s.method as string | undefined)?.toUpperCase(),
        path: path === undefined ? undefined : String(path),
        action,
        phase: (s.phase as FaultPhase | undefined) ?? 'before',
        limit,
      },
      regex: path === undefined ? undefined : path instanceof RegExp ? path : globToRegExp(path),
      random: limit.kind === 'probability' ? seededRandom(limit.seed) : undefined,
      perEndpoint: new Map(),
      matched: 0,
      fired: 0,
    };
    return this.enter(live);
  }

  /**
   * @internal Counts the call against every matching rule and says what to do with it. `route`:
   * the path template it was routed to (the path itself when none matched).
   */
  decide(service: AlcorService | undefined, method: string, path: string, route = path): FaultPlan {
    let beforeLatencyMs = 0;
    let afterLatencyMs = 0;
    let before: TerminalFault | undefined;
    let after: TerminalFault | undefined;
    const applied: AppliedFault[] = [];
    for (const r of this.rules) {
      const { rule } = r;
      if (rule.service !== undefined && rule.service !== service) continue;
      if (rule.method !== undefined && rule.method !== method) continue;
      if (r.regex && !r.regex.test(path)) continue;
      r.matched++;
      if (!this.fires(r, `${method} ${route}`)) continue;
      const a = rule.action;
      if (a.kind === 'latency') {
        if (rule.phase === 'before') beforeLatencyMs += a.ms;
        else afterLatencyMs += a.ms;
      } else if (rule.phase === 'before' && !before) {
        before = { ruleId: rule.id, action: a };
      } else if (rule.phase === 'after' && !after) {
        after = { ruleId: rule.id, action: a };
      } else {
        continue; // a terminal fault already took this phase
      }
      r.fired++;
      applied.push({ ruleId: rule.id, kind: a.kind, phase: rule.phase });
    }
    return { beforeLatencyMs, before, afterLatencyMs, after, applied };
  }

  private fires(r: LiveRule, endpoint: string): boolean {
    if (r.rule.limit.kind !== 'first-per-endpoint') return limitFires(r.rule.limit, r.matched, r.random);
    const n = (r.perEndpoint.get(endpoint) ?? 0) + 1;
    r.perEndpoint.set(endpoint, n);
    return limitFires(r.rule.limit, n, r.random);
  }
}
