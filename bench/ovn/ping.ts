// "Ping until reachable", as ovn-heater does per port: from a sampled port's VM to the port before
// it (on the previous vhost), started once both are installed; ping processes one after another,
// each sending every 50 ms for a second and exiting at the first reply. The reply's time is ping's
// own -D timestamp (wall clock).
import { run } from './stop.js';

export interface PingOutcome {
  readonly from: string;
  readonly to: string;
  /** wall-clock ms of the first reply; undefined: none within the timeout */
  readonly replyAt: number | undefined;
  readonly error?: string;
  /** ping processes run (one per second until a reply) */
  readonly attempts: number;
}

/**
 * A ping process per second, as ovn-heater's "ping until reachable" runs ping again and again: one
 * process held for the whole wait was seen to get no reply for minutes (at 1,000 ports in one
 * switch) from a port a fresh ping reached at once.
 */
const ATTEMPT_SECONDS = 1;

export async function pingUntilReachable(vmNetns: string, fromLsp: string, toLsp: string, toIp: string, timeoutMs: number): Promise<PingOutcome> {
  const deadline = Date.now() + timeoutMs;
  let attempts = 0;
  let last = '';
  while (Date.now() < deadline) {
    attempts++;
    try {
      // One attempt: up to 20 echoes 50 ms apart, exit at the first reply.
      const out = await run('ip', ['netns', 'exec', vmNetns, 'ping', '-n', '-D', '-i', '0.05', '-c', '1', '-w', String(ATTEMPT_SECONDS), toIp], ATTEMPT_SECONDS * 1000 + 10_000);
      const m = /^\[(\d+\.\d+)\] \d+ bytes from/m.exec(out);
      if (m) return { from: fromLsp, to: toLsp, replyAt: Number(m[1]) * 1000, attempts };
      last = `no reply line in ping's output: ${out.trim().split('\n').at(-1) ?? ''}`;
    } catch (e) {
      last = e instanceof Error ? e.message.split('\n')[0]! : String(e);
    }
  }
  return { from: fromLsp, to: toLsp, replyAt: undefined, attempts, error: `no reply within ${Math.ceil(timeoutMs / 1000)} s (${attempts} attempts; last: ${last})` };
}
