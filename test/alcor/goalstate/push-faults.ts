// Fault injection on GoalState pushes, per host (node_name) or for all: a delay before the push,
// a dropped call (cancelled once written, the reply never read: the push failed), or a failure
// (the push is made but counts as if the agent had answered FAILURE). Limits as for the REST
// faults (always, first n, every kth, seeded probability), counted per matching push.
import { InvalidArgumentError } from '@merak/common';
import { FaultBook, type LiveFaultRule, isRecord } from '../fault-book.js';
import { type FaultLimit, checkLimit, limitFires } from '../faults.js';
import { seededRandom } from '../random.js';

export type PushFaultAction =
  | { readonly kind: 'delay'; readonly ms: number }
  | { readonly kind: 'drop' }
  | { readonly kind: 'failure' };

export interface PushFaultSpec {
  /** Default: "push-fault-1", "push-fault-2"… */
  readonly id?: string;
  /** The node_name of the host; undefined: every host. */
  readonly host?: string;
  readonly action: PushFaultAction;
  /** Default { kind: 'always' }. */
  readonly limit?: FaultLimit;
}

export interface PushFaultRule {
  readonly id: string;
  readonly host: string | undefined;
  readonly action: PushFaultAction;
  readonly limit: FaultLimit;
  readonly matched: number;
  readonly fired: number;
}

/** What to do with one push. */
export interface PushFaultPlan {
  readonly delayMs: number;
  /** The first drop or failure rule that fired. */
  readonly terminal: { readonly ruleId: string; readonly kind: 'drop' | 'failure' } | undefined;
  /** Ids of the rules that fired. */
  readonly applied: readonly string[];
}

type PushFaultRuleSpecified = Omit<PushFaultRule, 'matched' | 'fired'>;
type LiveRule = LiveFaultRule<PushFaultRuleSpecified>;

function checkAction(v: unknown): PushFaultAction {
  if (!isRecord(v)) throw new InvalidArgumentError('action', 'must be an object with a kind');
  switch (v.kind) {
    case 'delay':
      if (typeof v.ms !== 'number' || !Number.isFinite(v.ms) || v.ms < 0) throw new InvalidArgumentError('action.ms', 'must be a number of milliseconds ≥ 0');
      return { kind: 'delay', ms: v.ms };
    case 'drop':
    case 'failure':
      return { kind: v.kind };
    default:
      throw new InvalidArgumentError('action.kind', `'${String(v.kind)}' is not delay, drop or failure`);
  }
}

export class PushFaults extends FaultBook<PushFaultRuleSpecified, LiveRule> {
  constructor() {
    super('push-fault');
  }

  /** Adds a rule (a bad field throws InvalidArgumentError naming it); returns it as listed. */
  add(spec: PushFaultSpec): PushFaultRule {
    const s: unknown = spec;
    if (!isRecord(s)) throw new InvalidArgumentError('rule', 'must be an object');
    const id = this.takeId(s.id);
    if (s.host !== undefined && (typeof s.host !== 'string' || s.host === '')) throw new InvalidArgumentError('host', 'must be a node name');
    const action = checkAction(s.action);
    const limit = checkLimit(s.limit);
    // Pushes have no endpoints to count by.
    if (limit.kind === 'first-per-endpoint') throw new InvalidArgumentError('limit.kind', 'first-per-endpoint is for REST faults; use first');
    const live: LiveRule = {
      rule: { id, host: s.host as string | undefined, action, limit },
      random: limit.kind === 'probability' ? seededRandom(limit.seed) : undefined,
      matched: 0,
      fired: 0,
    };
    return this.enter(live);
  }

  /** @internal Counts the push against every matching rule and says what to do with it. */
  decide(host: string): PushFaultPlan {
    let delayMs = 0;
    let terminal: PushFaultPlan['terminal'];
    const applied: string[] = [];
    for (const r of this.rules) {
      if (r.rule.host !== undefined && r.rule.host !== host) continue;
      r.matched++;
      if (!limitFires(r.rule.limit, r.matched, r.random)) continue;
      const a = r.rule.action;
      if (a.kind === 'delay') delayMs += a.ms;
      else if (!terminal) terminal = { ruleId: r.rule.id, kind: a.kind };
      else continue; // a drop or failure already decided this push
      r.fired++;
      applied.push(r.rule.id);
    }
    return { delayMs, terminal, applied };
  }
}
