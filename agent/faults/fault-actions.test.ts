import { InvalidArgumentError } from '@merak/common';
import { agentV1 } from '@merak/proto';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { FaultNotPossibleError, createFaultActions } from './fault-actions.js';

const logger = pino({ level: 'silent' });
const { FAULT_ACTION_AGENT_KILL: KILL, FAULT_ACTION_UNDERLAY_DOWN: DOWN, FAULT_ACTION_OVS_RESTART: OVS } = agentV1.FaultAction;

describe('fault actions (InjectFault on the agent)', () => {
  it('agent-kill answers first, then ends the process', async () => {
    let killed = false;
    const inject = createFaultActions({ logger, vhost: 'vh-1', setUnderlayUp: undefined, underlayInterface: undefined, ovsRundir: undefined, killSelf: () => { killed = true; } });
    const answer = await inject({ action: KILL, forMs: 0 });
    expect(answer).toEqual({ detail: `SIGKILL to the agent of vh-1 (pid ${process.pid})`, pid: process.pid, backMs: 0 });
    expect(killed).toBe(false);
    await new Promise((r) => setTimeout(r, 120));
    expect(killed).toBe(true);
  });

  it('vhost-isolate sets the underlay down, and up again after for_ms by itself', async () => {
    const states: boolean[] = [];
    const inject = createFaultActions({ logger, vhost: 'vh-1', setUnderlayUp: async (up) => { states.push(up); }, underlayInterface: 'eth0', ovsRundir: '/nowhere' });
    const answer = await inject({ action: DOWN, forMs: 100 });
    expect(answer.detail).toBe('eth0 of vh-1 down for 100 ms');
    expect(states).toEqual([false]);
    await new Promise((r) => setTimeout(r, 200));
    expect(states).toEqual([false, true]);
  });

  it('refuses what this agent cannot do, and bad input, naming the field', async () => {
    const hollow = createFaultActions({ logger, vhost: 'vh-1', setUnderlayUp: undefined, underlayInterface: undefined, ovsRundir: undefined });
    await expect(hollow({ action: DOWN, forMs: 100 })).rejects.toBeInstanceOf(FaultNotPossibleError);
    await expect(hollow({ action: OVS, forMs: 0 })).rejects.toBeInstanceOf(FaultNotPossibleError);
    const kernel = createFaultActions({ logger, vhost: 'vh-1', setUnderlayUp: async () => undefined, underlayInterface: 'eth0', ovsRundir: '/nowhere' });
    const bad = await kernel({ action: DOWN, forMs: 0 }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(InvalidArgumentError);
    expect((bad as InvalidArgumentError).message).toMatch(/for_ms/);
    await expect(kernel({ action: agentV1.FaultAction.FAULT_ACTION_UNSPECIFIED, forMs: 0 })).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});
