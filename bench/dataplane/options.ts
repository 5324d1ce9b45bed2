// The command line: the run's options and the modes to run, checked.
import { parseArgs } from 'node:util';
import type { Mode, Options } from './figures.js';

export function parseOptions(): { o: Options; modes: Mode[] } {
  const { values } = parseArgs({
    options: {
      hosts: { type: 'string', default: '5' }, vms: { type: 'string' }, pairs: { type: 'string', default: '1000' }, count: { type: 'string', default: '3' },
      'timeout-ms': { type: 'string', default: '15000' }, 'skip-baseline': { type: 'boolean', default: false }, modes: { type: 'string', default: 'neighbors,flood' }, keep: { type: 'boolean', default: false },
    },
  });
  const hosts = Number(values.hosts);
  const o: Options = {
    hosts, vms: Number(values.vms ?? 10 * hosts), pairs: Number(values.pairs), count: Number(values.count), timeoutMs: Number(values['timeout-ms']), keep: values.keep!,
  };
  // 64: what `merak local up` allows.
  if (!Number.isInteger(o.hosts) || o.hosts < 2 || o.hosts > 64) throw new Error('--hosts must be an integer in 2..64');
  // Every vhost holds a VM, so every one has a neighbor table to program and flows to count.
  if (!Number.isInteger(o.vms) || o.vms < o.hosts || o.vms > 10_000) throw new Error(`--vms must be an integer in ${o.hosts}..10000`);
  if (!Number.isInteger(o.pairs) || o.pairs < 1 || o.pairs > 1_000_000) throw new Error('--pairs must be an integer in 1..1000000');
  if (!Number.isInteger(o.count) || o.count < 1 || o.count > 100) throw new Error('--count must be an integer in 1..100');
  if (!Number.isInteger(o.timeoutMs) || o.timeoutMs < 100 || o.timeoutMs > 60_000) throw new Error('--timeout-ms must be an integer in 100..60000');
  const modes = values.modes!.split(',').filter((x) => !(values['skip-baseline'] && x === 'flood'));
  if (modes.length === 0 || modes.some((x) => x !== 'neighbors' && x !== 'flood')) throw new Error('--modes must list neighbors and/or flood');
  return { o, modes: modes as Mode[] };
}
