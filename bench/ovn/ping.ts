// "Ping until reachable", as ovn-heater does per port: from a sampled port's VM to the port before
// it (on the previous vhost), started once both are installed; one ping process that sends every
// 50 ms and exits at the first reply. The reply's time is ping's own -D timestamp (wall clock).
import { run } from './stop.js';

export interface PingOutcome {
  readonly from: string;
  readonly to: string;
  /** wall-clock ms of the first reply; undefined: none within the timeout */
  readonly replyAt: number | undefined;
  readonly error?: string;
}

export async function pingUntilReachable(vmNetns: string, fromLsp: string, toLsp: string, toIp: string, timeoutMs: number): Promise<PingOutcome> {
  const secs = Math.ceil(timeoutMs / 1000);
  try {
    const out = await run('ip', ['netns', 'exec', vmNetns, 'ping', '-n', '-D', '-i', '0.05', '-c', '1', '-w', String(secs), toIp], timeoutMs + 10_000);
    const m = /^\[(\d+\.\d+)\] \d+ bytes from/m.exec(out);
    if (!m) return { from: fromLsp, to: toLsp, replyAt: undefined, error: `no reply line in ping's output: ${out.trim().split('\n').at(-1) ?? ''}` };
    return { from: fromLsp, to: toLsp, replyAt: Number(m[1]) * 1000 };
  } catch (e) {
    return { from: fromLsp, to: toLsp, replyAt: undefined, error: `no reply within ${secs} s (${e instanceof Error ? e.message.split('\n')[0] : String(e)})` };
  }
}
