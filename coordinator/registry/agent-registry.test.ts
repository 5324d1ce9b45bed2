import { EventEmitter } from 'node:events';
import type { ServerDuplexStream } from '@grpc/grpc-js';
import type { coordinatorV1 } from '@merak/proto';
import { describe, expect, it } from 'vitest';
import { AgentRegistry } from './agent-registry.js';

/** A stand-in for the server side of one Register stream: enough to drive the registry. */
function fakeStream(): EventEmitter & { written: coordinatorV1.CoordinatorMessage[]; write(m: coordinatorV1.CoordinatorMessage): void; end(): void } {
  const e = new EventEmitter() as EventEmitter & { written: coordinatorV1.CoordinatorMessage[]; write(m: coordinatorV1.CoordinatorMessage): void; end(): void };
  e.written = [];
  e.write = (m) => void e.written.push(m);
  e.end = () => undefined;
  return e;
}

const hello: coordinatorV1.AgentMessage = { body: { $case: 'hello', value: { name: 'vhost-0', address: 'unix:/x', underlayIp: '', underlayMac: '', version: '1', ovsVersion: '', capacity: 10, hollow: true } } };
const beat: coordinatorV1.AgentMessage = { body: { $case: 'heartbeat', value: { vmCount: 0 } } };

describe('AgentRegistry', () => {
  it('registers on hello, notices missed heartbeats, and takes the agent back when they resume', async () => {
    const registry = new AgentRegistry({ minHeartbeatMs: 20, missedBeforeLost: 3 });
    const events: string[] = [];
    registry.on('connected', (a, how) => events.push(`connected ${a.name} (${how})`));
    registry.on('lost', (a) => events.push(`lost ${a.name}`));
    const stream = fakeStream();
    registry.handle(stream as unknown as ServerDuplexStream<coordinatorV1.AgentMessage, coordinatorV1.CoordinatorMessage>);
    stream.emit('data', hello);
    expect(stream.written[0]).toMatchObject({ heartbeatIntervalMs: 20 });
    expect(registry.connected().map((a) => a.name)).toEqual(['vhost-0']);
    // Lost after 3 silent intervals (a few more sweeps on a loaded machine, whose timers run late).
    const deadline = Date.now() + 2000;
    while (registry.connected().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(registry.connected()).toEqual([]);
    stream.emit('data', beat);
    expect(registry.connected().map((a) => a.name)).toEqual(['vhost-0']);
    stream.emit('end');
    expect(registry.get('vhost-0')?.connected).toBe(false);
    // Back on the same stream: only late, it holds what it was told (control planes re-send nothing).
    expect(events).toEqual(['connected vhost-0 (registered)', 'lost vhost-0', 'connected vhost-0 (resumed)', 'lost vhost-0']);
    registry.close();
  });

  it('stretches the heartbeat interval as the fleet grows, telling every agent, and never calls a slow beater lost early', async () => {
    const registry = new AgentRegistry({ minHeartbeatMs: 20, maxHeartbeatMs: 400, targetBeatsPerSecond: 100 });
    const streams = Array.from({ length: 30 }, () => fakeStream());
    streams.forEach((s, i) => {
      registry.handle(s as unknown as ServerDuplexStream<coordinatorV1.AgentMessage, coordinatorV1.CoordinatorMessage>);
      s.emit('data', { body: { $case: 'hello', value: { ...(hello.body as { value: coordinatorV1.AgentInfo }).value, name: `vhost-${i}` } } });
    });
    // 30 agents at 100 beats/s in all: 300 ms each, retuned in steps of 1.5x (so within 1.5x of it).
    const interval = registry.heartbeatIntervalMs;
    expect(interval).toBeGreaterThan(200);
    expect(interval).toBeLessThanOrEqual(300);
    for (const s of streams) expect(s.written.at(-1)).toMatchObject({ heartbeatIntervalMs: interval });
    // Beating every 250 ms keeps them all connected although the first were told 20 ms at first.
    for (let t = 0; t < 4; t++) {
      await new Promise((r) => setTimeout(r, 250));
      for (const s of streams) s.emit('data', beat);
    }
    expect(registry.connected()).toHaveLength(30);
    registry.close();
  });

  it('does not call agents lost because the coordinator itself was stalled', async () => {
    const registry = new AgentRegistry({ minHeartbeatMs: 20, missedBeforeLost: 3 });
    const lost: string[] = [];
    registry.on('lost', (a) => lost.push(a.name));
    const stream = fakeStream();
    registry.handle(stream as unknown as ServerDuplexStream<coordinatorV1.AgentMessage, coordinatorV1.CoordinatorMessage>);
    stream.emit('data', hello);
    await new Promise((r) => setTimeout(r, 30));
    // The agent's beat is waiting to be read (as in a socket) while the event loop is blocked for 10
    // intervals; when it runs again, the overdue sweep comes before the beat.
    setImmediate(() => stream.emit('data', beat));
    const until = Date.now() + 200;
    while (Date.now() < until) { /* a stalled coordinator */ }
    await new Promise((r) => setTimeout(r, 30));
    expect(lost).toEqual([]);
    expect(registry.get('vhost-0')?.connected).toBe(true);
    registry.close();
  });

  it('waits for an agent to (re)connect, and gives up after the timeout or on abort', async () => {
    const registry = new AgentRegistry({ minHeartbeatMs: 1000 });
    const stream = fakeStream();
    const back = registry.waitFor('vhost-0', 5000);
    registry.handle(stream as unknown as ServerDuplexStream<coordinatorV1.AgentMessage, coordinatorV1.CoordinatorMessage>);
    stream.emit('data', hello);
    expect(await back).toBe(true);
    expect(await registry.waitFor('vhost-0', 10)).toBe(true);
    expect(await registry.waitFor('vhost-9', 30)).toBe(false);
    const abort = new AbortController();
    const aborted = registry.waitFor('vhost-9', 5000, abort.signal);
    abort.abort();
    expect(await aborted).toBe(false);
    expect(registry.listenerCount('connected')).toBe(0);
    registry.close();
  });
});
