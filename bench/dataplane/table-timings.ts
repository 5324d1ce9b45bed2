// Time to program the neighbor tables, read from the logs: the coordinator's line for the scenario's
// VMs (its wall time runs from the scenario's tunnels being set: the first 'overlay set' after it was
// submitted) and each agent's own figure, from the updates that changed its table (a refresh that
// re-sends the same table programs nothing).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { round, spread, type Mode, type NeighborTableFigures } from './figures.js';
import type { Vhost } from './outside-checks.js';

/** Pino JSON lines of a log file whose message passes `keep`. */
function logLines(file: string, keep: (msg: string) => boolean): Array<Record<string, unknown>> {
  if (!existsSync(file)) return [];
  const out: Array<Record<string, unknown>> = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const o = JSON.parse(line) as Record<string, unknown>;
      if (typeof o.msg === 'string' && keep(o.msg)) out.push(o);
    } catch {
      // a line cut short by a process that was killed
    }
  }
  return out;
}

/**
 * The neighbor tables' timings from the coordinator's log in `dir` and the agents' logs, for the
 * scenario submitted at `submittedAt` (ms since the epoch). Adds to `problems` a missing coordinator
 * line (neighbors mode) and vhosts where the agent's last word on its flows differs from `flows`
 * (what dump-flows read).
 */
export function tableTimings(mode: Mode, dir: string, vhosts: readonly Vhost[], submittedAt: number, flows: readonly number[], problems: string[]): NeighborTableFigures {
  const coordinatorLog = join(dir, 'coordinator.log');
  const coordinatorLines = logLines(coordinatorLog, (msg) => msg.startsWith('neighbor tables:'));
  const scenarioLine = coordinatorLines.find((l) => l.msg === "neighbor tables: add the scenario's VMs" && Number(l.vhostsTold) > 0);
  const overlaySet = scenarioLine && logLines(coordinatorLog, (msg) => msg === 'overlay set').find((l) => Number(l.time) >= submittedAt);
  if (mode === 'neighbors' && !scenarioLine) problems.push("no 'neighbor tables: add the scenario's VMs' line in the coordinator's log");
  const agentLines = vhosts.map((v) => logLines(join(v.dir, 'agent.log'), (msg) => msg === 'neighbor table updated'));
  const agentMs = agentLines.map((l) => l.filter((x) => Number(x.upserted) + Number(x.removed) > 0)).filter((l) => l.length > 0)
    .map((l) => l.reduce((a, x) => a + Number(x.micros), 0) / 1000);
  // The agent's word on its flows, against what OVS holds.
  const agentFlows = agentLines.map((l) => (l.length > 0 ? Number(l[l.length - 1]!.flows) : undefined));
  const disagree = vhosts.map((v) => v.name).filter((_, h) => agentFlows[h] !== undefined && agentFlows[h] !== flows[h]);
  if (disagree.length > 0) problems.push(`on ${disagree.length} vhosts the agent's last 'flows' differs from dump-flows (e.g. ${disagree[0]})`);
  return {
    coordinatorSlowestMs: scenarioLine ? round(Number(scenarioLine.slowestMs), 2) : null,
    coordinatorWallMs: scenarioLine && overlaySet ? Number(scenarioLine.time) - Number(overlaySet.time) : null,
    coordinatorFlowMods: scenarioLine ? Number(scenarioLine.flowMods) : null,
    agentMs: agentMs.length > 0 ? (({ min, median, max }) => ({ min: round(min, 2), median: round(median, 2), max: round(max, 2) }))(spread(agentMs)) : null,
    agentUpdates: agentLines.reduce((a, l) => a + l.length, 0),
    coordinatorUpdates: coordinatorLines.filter((l) => Number(l.vhostsTold) > 0).length,
  };
}
