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

const hello: coordinatorV1.AgentMessage = { body: { $case: 'hello', value: { name: 'vhost-0', address: 'unix:/x', underlayIp: '', version: '1', capacity: 10, hollow: true } } };
const beat: coordinatorV1.AgentMessage = { body: { $case: 'heartbeat', value: { vmCount: 0 } } };

describe('AgentRegistry', () => {
  it('registers on hello, notices missed heartbeats, and takes the agent back when they resume', async () => {
    const registry = new AgentRegistry(20, 3);
    const events: string[] = [];
    registry.on('connected', (a) => events.push(`connected ${a.name}`));
    registry.on('lost', (a) => events.push(`lost ${a.name}`));
    const stream = fakeStream();
    registry.handle(stream as unknown as ServerDuplexStream<coordinatorV1.AgentMessage, coordinatorV1.CoordinatorMessage>);
    stream.emit('data', hello);
    expect(stream.written[0]).toEqual({ heartbeatIntervalMs: 20 });
    expect(registry.connected().map((a) => a.name)).toEqual(['vhost-0']);
    await new Promise((r) => setTimeout(r, 120));
    expect(registry.connected()).toEqual([]);
    stream.emit('data', beat);
    expect(registry.connected().map((a) => a.name)).toEqual(['vhost-0']);
    stream.emit('end');
    expect(registry.get('vhost-0')?.connected).toBe(false);
    expect(events).toEqual(['connected vhost-0', 'lost vhost-0', 'connected vhost-0', 'lost vhost-0']);
    registry.close();
  });
});
