// Ping from inside a VM: a raw ICMP socket opened in the VM's namespace (so the probe crosses the
// VM's own eth0, route and OVS port), echoes to each target, replies matched by id and sequence.
import { randomInt } from 'node:crypto';
import { AF_INET, ICMP_FILTER, IPPROTO_ICMP, NETNS_RUN_DIR, SOCK_RAW, SOL_RAW, SOL_SOCKET, SO_RCVBUF, SO_RCVBUFFORCE, netnsEnter, openSocket } from '@merak/native';
import { errorMessage } from '../errors.js';
import { decodeEchoReply, encodeEchoRequest } from './icmp.js';

const ICMP_ECHO_REPLY = 0;
const RECEIVE_BUFFER_BYTES = 4 << 20;

export interface PingOptions {
  readonly count: number;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** Resolves when the next echo may be sent (the agent's Pacer); default: no pacing. */
  readonly pace?: () => Promise<void>;
}

export interface PingTargetResult {
  readonly vm: string;
  readonly target: string;
  readonly sent: number;
  readonly received: number;
  readonly rttMinMs: number;
  readonly rttAvgMs: number;
  readonly rttMaxMs: number;
  readonly error: string;
  /** From the first echo sent to the first reply (0 = no reply). */
  readonly firstReplyMs: number;
}

/** Pings every target from inside the VM namespace `vm`, all targets in parallel. */
export async function pingFromNamespace(vm: string, targets: readonly string[], opts: PingOptions): Promise<PingTargetResult[]> {
  let fd: number;
  try {
    [fd] = (await netnsEnter(`${NETNS_RUN_DIR}/${vm}`, { sockets: [[AF_INET, SOCK_RAW, IPPROTO_ICMP]] })) as [number];
  } catch (e) {
    return targets.map((target) => emptyResult(vm, target, `cannot open an ICMP socket in ${vm}: ${errorMessage(e)}`));
  }
  const identifier = randomInt(1, 0xffff);
  // seq -> [target index, sent at]; one sequence space for the socket, so replies map back uniquely.
  const pending = new Map<number, { target: number; sentAt: bigint }>();
  const rtts: number[][] = targets.map(() => []);
  const sent = targets.map(() => 0);
  const errors = targets.map(() => '');
  const firstSent: Array<bigint | undefined> = targets.map(() => undefined);
  const firstReply = targets.map(() => 0);
  const socket = openSocket(
    fd,
    (messages) => {
      const now = process.hrtime.bigint();
      for (const m of messages) {
        const reply = decodeEchoReply(m);
        if (!reply || reply.identifier !== identifier) continue;
        const p = pending.get(reply.sequence);
        if (!p || targets[p.target] !== reply.source) continue;
        pending.delete(reply.sequence);
        rtts[p.target]!.push(Number(now - p.sentAt) / 1e6);
        if (firstReply[p.target] === 0) firstReply[p.target] = Number(now - firstSent[p.target]!) / 1e6;
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
  try {
    for (let round = 0; round < opts.count; round++) {
      if (round > 0) await sleep(opts.intervalMs);
      for (let t = 0; t < targets.length; t++) {
        const target = targets[t]!;
        if (errors[t]) continue;
        await opts.pace?.();
        seq = (seq + 1) & 0xffff;
        const sentAt = process.hrtime.bigint();
        pending.set(seq, { target: t, sentAt });
        firstSent[t] ??= sentAt;
        try {
          socket.sendTo(encodeEchoRequest(identifier, seq, payload), target);
          sent[t]!++;
        } catch (e) {
          pending.delete(seq);
          errors[t] = `send to ${target}: ${errorMessage(e)}`;
        }
      }
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
  return targets.map((target, t) => {
    const r = rtts[t]!;
    if (r.length === 0) return { ...emptyResult(vm, target, errors[t]!), sent: sent[t]! };
    return {
      vm, target, sent: sent[t]!, received: r.length,
      rttMinMs: Math.min(...r), rttAvgMs: r.reduce((a, b) => a + b, 0) / r.length, rttMaxMs: Math.max(...r),
      error: errors[t]!, firstReplyMs: firstReply[t]!,
    };
  });
}

function emptyResult(vm: string, target: string, error: string): PingTargetResult {
  return { vm, target, sent: 0, received: 0, rttMinMs: 0, rttAvgMs: 0, rttMaxMs: 0, error, firstReplyMs: 0 };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
