// Ping from inside a VM: a raw ICMP socket opened in the VM's namespace (so the probe crosses the
// VM's own eth0, route and OVS port), echoes to each target, replies matched by id and sequence.
import { randomInt } from 'node:crypto';
import { AF_INET, ICMP_FILTER, IPPROTO_ICMP, NETNS_RUN_DIR, SOCK_RAW, SOL_RAW, SOL_SOCKET, SO_RCVBUF, SO_RCVBUFFORCE, netnsEnter, openSocket } from '@merak/native';
import { errorMessage } from '@merak/common';
import { decodeEchoReply, encodeEchoRequest } from './icmp.js';

const ICMP_ECHO_REPLY = 0;
const RECEIVE_BUFFER_BYTES = 4 << 20;

export interface PingOptions {
  readonly count: number;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /**
   * Before the counted echoes, echo each target until its first reply, for up to this long
   * (0 = no convergence: the counted echoes start at once). A path still being programmed is then
   * slow, not broken: the pair fails only if nothing answered by the deadline.
   */
  readonly convergeMs?: number;
  /** Resolves when the next echo may be sent (the agent's Pacer); default: no pacing. */
  readonly pace?: () => Promise<void>;
}

export interface PingTargetResult {
  readonly vm: string;
  readonly target: string;
  /** Every echo sent to the target, those sent while converging included. */
  readonly sent: number;
  /** Every reply received, those to converging echoes included. */
  readonly received: number;
  /** Round trips of the counted echoes (the steady path); of the converging ones if none came back. */
  readonly rttMinMs: number;
  readonly rttAvgMs: number;
  readonly rttMaxMs: number;
  readonly error: string;
  /** From the first echo sent to the first reply (0 = no reply). */
  readonly firstReplyMs: number;
}

/** Converging echoes start at the ping interval and back off to this, so a dead path costs little. */
const MAX_CONVERGE_GAP_MS = 1000;

/** One target's progress: converging (until a reply or the deadline), then counting, then done. */
interface Target {
  readonly ip: string;
  phase: 'converge' | 'count' | 'done';
  nextAt: number;
  gapMs: number;
  sent: number;
  counted: number;
  received: number;
  readonly steadyRtts: number[];
  readonly convergeRtts: number[];
  firstSent?: bigint;
  firstReplyMs: number;
  error: string;
}

/** Pings every target from inside the VM namespace `vm`, all targets in parallel. */
export async function pingFromNamespace(vm: string, targets: readonly string[], opts: PingOptions): Promise<PingTargetResult[]> {
  let fd: number;
  try {
    [fd] = (await netnsEnter(`${NETNS_RUN_DIR}/${vm}`, { sockets: [[AF_INET, SOCK_RAW, IPPROTO_ICMP]] })) as [number];
  } catch (e) {
    return targets.map((target) => emptyResult(vm, target, `cannot open an ICMP socket in ${vm}: ${errorMessage(e)}`));
  }
  const converging = (opts.convergeMs ?? 0) > 0;
  const state: Target[] = targets.map((ip) => ({
    ip, phase: converging ? 'converge' : 'count', nextAt: 0, gapMs: opts.intervalMs, sent: 0, counted: 0, received: 0,
    steadyRtts: [], convergeRtts: [], firstReplyMs: 0, error: '',
  }));
  const identifier = randomInt(1, 0xffff);
  // seq -> the echo; one sequence space for the socket, so replies map back uniquely.
  const pending = new Map<number, { target: Target; sentAt: bigint; counted: boolean }>();
  const socket = openSocket(
    fd,
    (messages) => {
      const now = process.hrtime.bigint();
      for (const m of messages) {
        const reply = decodeEchoReply(m);
        if (!reply || reply.identifier !== identifier) continue;
        const p = pending.get(reply.sequence);
        if (!p || p.target.ip !== reply.source) continue;
        pending.delete(reply.sequence);
        const t = p.target;
        t.received++;
        (p.counted ? t.steadyRtts : t.convergeRtts).push(Number(now - p.sentAt) / 1e6);
        if (t.firstReplyMs === 0) t.firstReplyMs = Number(now - t.firstSent!) / 1e6;
      }
    },
    () => undefined,
  );
  // A raw ICMP socket gets a copy of every ICMP packet the VM receives, the echo requests of every
  // VM pinging this one included. In a test where all VMs ping each other at once, those copies
  // and the replies overran the default receive buffer whenever the agent's event loop lagged, and
  // lost replies read as broken pairs. Only echo replies are let in, into a roomy buffer.
  socket.setsockopt(SOL_RAW, ICMP_FILTER, ~(1 << ICMP_ECHO_REPLY));
  try {
    socket.setsockopt(SOL_SOCKET, SO_RCVBUFFORCE, RECEIVE_BUFFER_BYTES);
  } catch {
    socket.setsockopt(SOL_SOCKET, SO_RCVBUF, RECEIVE_BUFFER_BYTES);
  }
  let seq = 0;
  const payload = Buffer.alloc(56, 0x6d);
  const send = async (t: Target, counted: boolean): Promise<boolean> => {
    await opts.pace?.();
    seq = (seq + 1) & 0xffff;
    const sentAt = process.hrtime.bigint();
    pending.set(seq, { target: t, sentAt, counted });
    t.firstSent ??= sentAt;
    try {
      socket.sendTo(encodeEchoRequest(identifier, seq, payload), t.ip);
      t.sent++;
      return true;
    } catch (e) {
      pending.delete(seq);
      t.error = `send to ${t.ip}: ${errorMessage(e)}`;
      return false;
    }
  };
  const convergeUntil = performance.now() + (opts.convergeMs ?? 0);
  try {
    for (;;) {
      let wake = Infinity;
      for (const t of state) {
        const now = performance.now();
        if (t.phase === 'converge') {
          if (t.firstReplyMs > 0) {
            // Answered: the counted echoes start now, and a send error seen while converging is history.
            t.phase = 'count';
            t.nextAt = now;
            t.error = '';
            // Its other converging echoes were lost or are late: the final wait is for counted ones.
            for (const [k, p] of pending) if (p.target === t && !p.counted) pending.delete(k);
          } else if (now >= convergeUntil) {
            t.phase = 'done';
            continue;
          } else if (now >= t.nextAt) {
            // A path not yet programmed may refuse a send (no route, ARP failed): try again later.
            await send(t, false);
            t.nextAt = now + t.gapMs;
            t.gapMs = Math.min(t.gapMs * 2, MAX_CONVERGE_GAP_MS);
          }
        }
        if (t.phase === 'count' && now >= t.nextAt) {
          t.counted++;
          t.nextAt = now + opts.intervalMs;
          if (!(await send(t, true)) || t.counted >= opts.count) t.phase = 'done';
        }
        if (t.phase !== 'done') wake = Math.min(wake, t.nextAt, t.phase === 'converge' ? convergeUntil : Infinity);
      }
      if (wake === Infinity) break;
      // Wake at the next send, or sooner to notice a first reply and start counting.
      await sleep(Math.max(1, Math.min(wake - performance.now(), 20)));
    }
    // Wait for the last replies, returning early when everything came back.
    const deadline = Date.now() + opts.timeoutMs;
    while (pending.size > 0 && Date.now() < deadline) await sleep(5);
    // After a stalled event loop the timer above can fire before the poll phase has read the
    // replies already waiting in the socket: one turn through poll (setImmediate runs after it)
    // reads them before the socket closes.
    if (pending.size > 0) await new Promise((resolve) => setImmediate(resolve));
  } finally {
    socket.close();
  }
  return state.map((t) => {
    const r = t.steadyRtts.length > 0 ? t.steadyRtts : t.convergeRtts;
    if (r.length === 0) return { ...emptyResult(vm, t.ip, t.error), sent: t.sent };
    return {
      vm, target: t.ip, sent: t.sent, received: t.received,
      rttMinMs: Math.min(...r), rttAvgMs: r.reduce((a, b) => a + b, 0) / r.length, rttMaxMs: Math.max(...r),
      error: t.error, firstReplyMs: t.firstReplyMs,
    };
  });
}

function emptyResult(vm: string, target: string, error: string): PingTargetResult {
  return { vm, target, sent: 0, received: 0, rttMinMs: 0, rttAvgMs: 0, rttMaxMs: 0, error, firstReplyMs: 0 };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
