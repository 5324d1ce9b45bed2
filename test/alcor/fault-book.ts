// The bookkeeping both fault injectors share (REST faults, faults.ts; GoalState push faults,
// goalstate/push-faults.ts): rules by id, given or numbered, with how often each matched and fired.
import { InvalidArgumentError } from '@merak/common';

export const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A rule in force: what was asked, its PRNG for a probability limit, and its counts. */
export interface LiveFaultRule<R> {
  readonly rule: R;
  readonly random: (() => number) | undefined;
  matched: number;
  fired: number;
}

/** A rule as listed: its spec with defaults filled in, and how often it matched and fired. */
export type ListedRule<R> = R & { readonly matched: number; readonly fired: number };

export abstract class FaultBook<R extends { readonly id: string }, L extends LiveFaultRule<R>> {
  protected rules: L[] = [];
  private nextId = 1;

  /** `idPrefix`: unnamed rules are `${idPrefix}-1`, `${idPrefix}-2`… */
  constructor(private readonly idPrefix: string) {}

  /** The id a new rule gets: `given` (a non-empty string no rule has), or the next free number. */
  protected takeId(given: unknown): string {
    const id = given === undefined ? `${this.idPrefix}-${this.nextId++}` : given;
    if (typeof id !== 'string' || id === '') throw new InvalidArgumentError('id', 'must be a non-empty string');
    if (this.rules.some((r) => r.rule.id === id)) throw new InvalidArgumentError('id', `a rule '${id}' exists`);
    return id;
  }

  /** Puts a checked rule in force; returns it as listed. */
  protected enter(live: L): ListedRule<R> {
    this.rules.push(live);
    return this.view(live);
  }

  remove(id: string): boolean {
    const before = this.rules.length;
    this.rules = this.rules.filter((r) => r.rule.id !== id);
    return this.rules.length < before;
  }

  clear(): void {
    this.rules = [];
    this.nextId = 1;
  }

  list(): ListedRule<R>[] {
    return this.rules.map((r) => this.view(r));
  }

  get(id: string): ListedRule<R> | undefined {
    const r = this.rules.find((x) => x.rule.id === id);
    return r && this.view(r);
  }

  private view(r: L): ListedRule<R> {
    return { ...r.rule, matched: r.matched, fired: r.fired };
  }
}
