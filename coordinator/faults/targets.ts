// Which of a run's vhosts a fault hits: the named ones, or a count or fraction of them drawn with
// the scenario's seed and the fault's position (the same scenario on the same hosts: the same targets).
import { mulberry32 } from '../plan/index.js';
import type { FaultModel } from '../scenario/index.js';

export function faultTargets(fault: FaultModel, index: number, hosts: readonly string[], seed: number): string[] {
  const t = fault.hosts;
  if (!t) return [];
  if (t.kind === 'names') return t.names.filter((n) => hosts.includes(n));
  const n = t.kind === 'count' ? Math.min(t.count, hosts.length) : Math.max(1, Math.ceil(t.fraction * hosts.length));
  const random = mulberry32((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
  const order = [...hosts];
  // Fisher-Yates, seeded: the first n of the shuffle.
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order.slice(0, n).sort((a, b) => hosts.indexOf(a) - hosts.indexOf(b));
}
