// Provider-specific splits of a VM's time: Alcor's bind (REST work vs GoalState push and
// programming) and OVN's port (NB write to installed). buildReport feeds each ready VM's steps.
import { type Quantiles, Samples } from './quantiles.js';

/**
 * An Alcor bind, per ready VM whose agent waited for its GoalState (ms). Alcor answers the bind PUT
 * only after pushing the port's GoalState, so the PUT is: REST work and push until the GoalState
 * reaches the host, its programming there, then the answer.
 */
export interface AlcorBindSplit {
  /** Ready VMs that waited for their port's GoalState (0: the agents serve none, Alcor's data plane went unchecked). */
  readonly goalStateVms: number;
  /** The bind PUT, whole (step bind). */
  readonly bindMs: Quantiles;
  /** Bind sent -> port programmed on its host (step goalstate). */
  readonly goalStateMs: Quantiles;
  /** Bind sent -> GoalState received on the host: Alcor's REST work and its push (goalstate - goalstate-apply). */
  readonly restAndPushMs: Quantiles;
  /** GoalState received -> port programmed, on the host (step goalstate-apply). */
  readonly programmingMs: Quantiles;
  /** Port programmed -> bind answered (bind - goalstate, at least 0). */
  readonly answerMs: Quantiles;
}

/**
 * An OVN port's way, per ready VM (ms): the northbound write of its chunk, then (on the
 * coordinator's clock, from the southbound monitor) its Port_Binding bound to a chassis and up,
 * and (on its vhost) ovn-controller's flows installed for it. The ping test's first reply follows.
 */
export interface OvnPortSplit {
  /** Ready VMs whose port this coordinator wrote (VMs of a run resumed after a restart may lack it). */
  readonly vms: number;
  /** Chunk write sent -> committed (step nb-write). */
  readonly nbWriteMs: Quantiles;
  /** NB commit -> Port_Binding bound to a chassis (step bound; needs the southbound). */
  readonly boundMs: Quantiles;
  /** NB commit -> Port_Binding up (step up; needs the southbound). */
  readonly upMs: Quantiles;
  /** On the vhost: port in OVSDB -> ovn-installed (the agent's step installed). */
  readonly installedMs: Quantiles;
}

/** Steps the OVN split reads: the coordinator's (provider-ovn) and the agent's. */
export const OVN_STEPS = { nbWrite: 'nb-write', bound: 'bound', up: 'up', installed: 'installed' } as const;

/** Accumulates the OVN split from each ready VM's steps. */
export class OvnSplitter {
  private readonly series = { nbWrite: new Samples(), bound: new Samples(), up: new Samples(), installed: new Samples() };

  add(steps: ReadonlyMap<string, number>): void {
    for (const [key, step] of Object.entries(OVN_STEPS) as Array<[keyof typeof OVN_STEPS, string]>) {
      const ms = steps.get(step);
      if (ms !== undefined) this.series[key].push(ms);
    }
  }

  summary(): OvnPortSplit {
    const s = this.series;
    return { vms: s.nbWrite.n, nbWriteMs: s.nbWrite.quantiles(), boundMs: s.bound.quantiles(), upMs: s.up.quantiles(), installedMs: s.installed.quantiles() };
  }
}

/** Steps the Alcor split reads (agent/vm/alcor-stages.ts names them). */
export const BIND = 'bind';
export const GOALSTATE = 'goalstate';
export const GOALSTATE_APPLY = 'goalstate-apply';

/** Accumulates the Alcor split from each ready VM's steps. */
export class AlcorSplitter {
  private readonly bind = new Samples();
  private readonly goalState = new Samples();
  private readonly restAndPush = new Samples();
  private readonly programming = new Samples();
  private readonly answer = new Samples();

  add(bindMs: number | undefined, goalStateMs: number | undefined, applyMs: number | undefined): void {
    if (bindMs === undefined || goalStateMs === undefined || applyMs === undefined) return;
    this.bind.push(bindMs);
    this.goalState.push(goalStateMs);
    this.restAndPush.push(Math.max(0, goalStateMs - applyMs));
    this.programming.push(applyMs);
    this.answer.push(Math.max(0, bindMs - goalStateMs));
  }

  summary(): AlcorBindSplit {
    return {
      goalStateVms: this.goalState.n, bindMs: this.bind.quantiles(), goalStateMs: this.goalState.quantiles(),
      restAndPushMs: this.restAndPush.quantiles(), programmingMs: this.programming.quantiles(), answerMs: this.answer.quantiles(),
    };
  }
}
