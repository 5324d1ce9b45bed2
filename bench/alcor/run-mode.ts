// One run of one mode, on a fresh Alcor server (this process) and a fresh fleet (a child process,
// none for push-off): set up, bind every port, check from outside, tear down. The two processes
// split the machine's two cores: here the REST server, NCM's pushes (one gRPC call per host per
// bind) and the REST client; there every host's GoalState server.
import type { JsonClient, PushRecord } from '../../test/alcor/index.js';
import { checkHostPorts, checkNeighbors, checkServerState, expectedNeighbors } from './checks.js';
import type { ModeRun, PushTally } from './figures.js';
import { Fleet } from './fleet-client.js';
import { bindAll, createNetworks, registerNodes } from './load.js';
import type { loadAlcor } from './modules.js';
import type { Mode, Options } from './options.js';
import { progress, throwIfStopped } from './stop.js';
import type { Topology } from './topology.js';

/** The same seed in every run: the same VNIs and MACs. */
const SEED = 20_240_601;
const PROJECT = 'bench-alcor';

function tally(): { pushes: PushTally; add(r: PushRecord): void } {
  const pushes: PushTally = { total: 0, ok: 0, failed: {}, firstErrors: [] };
  return {
    pushes,
    add(r) {
      pushes.total++;
      if (r.outcome === 'ok') {
        pushes.ok++;
        return;
      }
      pushes.failed[r.outcome] = (pushes.failed[r.outcome] ?? 0) + 1;
      if (pushes.firstErrors.length < 5) pushes.firstErrors.push(`${r.host} (${r.kind}): ${r.outcome}${r.error ? `, ${r.error}` : ''}`);
    },
  };
}

export async function runMode(mode: Mode, round: number, o: Options, topo: Topology, alcor: Awaited<ReturnType<typeof loadAlcor>>): Promise<ModeRun> {
  const label = `${mode} (round ${round})`;
  const fleet = mode === 'push-off' ? undefined : new Fleet();
  let server: Awaited<ReturnType<typeof alcor.startAlcorServer>> | undefined;
  let client: JsonClient | undefined;
  try {
    let fleetPorts: readonly number[] | undefined;
    if (fleet) {
      const t = performance.now();
      fleetPorts = (await fleet.ask({ kind: 'start', receiver: mode === 'hollow' ? 'hollow' : 'null', hosts: topo.hosts }, 'started')).ports;
      progress(`${label}: ${fleetPorts.length} ${mode === 'hollow' ? 'hollow GoalState hosts' : 'null receivers'} listening (pid ${fleet.pid}, ${((performance.now() - t) / 1000).toFixed(1)} s)`);
    }
    throwIfStopped();
    // The logs are bounded: the tally below sees every push as it is recorded.
    server = await alcor.startAlcorServer({
      seed: SEED, maxCalls: 1000,
      ...(fleet ? { goalState: { ncmPort: 0, timeoutMs: o.pushTimeoutMs, channelsPerHost: o.channelsPerHost, maxPushes: 1000 } } : {}),
    });
    client = new alcor.JsonClient(server.urls.port, o.concurrency);
    const net = await createNetworks(client, PROJECT, topo, o.concurrency);
    await registerNodes(client, topo, fleetPorts);
    progress(`${label}: ${net.vpcIds.length} VPCs with a subnet each, ${topo.hosts.length} nodes; binding ${topo.ports.length} ports, ${o.concurrency} at a time`);
    throwIfStopped();

    const t = tally();
    const unsubscribe = server.goalState?.pushes.subscribe(t.add) ?? (() => true);
    let bound = 0;
    const started = performance.now();
    const cpu0 = process.cpuUsage();
    const ticker = setInterval(() => {
      const s = (performance.now() - started) / 1000;
      progress(`${label}: ${bound}/${topo.ports.length} ports bound, ${t.pushes.total} pushes (${Math.round(t.pushes.total / s)}/s)`);
    }, 5000);
    let phase;
    let serverCpuSeconds = 0;
    let fleetCpuSeconds = 0;
    try {
      phase = await bindAll(client, PROJECT, topo, net, o.concurrency, () => bound++);
    } finally {
      const used = process.cpuUsage(cpu0);
      serverCpuSeconds = (used.user + used.system) / 1e6;
      clearInterval(ticker);
      unsubscribe();
    }
    throwIfStopped();
    const restErrors = phase.outcomes.map((x) => x.error).filter((e): e is string => e !== undefined);
    progress(`${label}: ${topo.ports.length - restErrors.length} ports bound in ${phase.seconds.toFixed(1)} s, ${t.pushes.total} pushes; checking from outside`);

    const problems: string[] = [];
    if (restErrors.length > 0) problems.push(`${restErrors.length} REST calls failed, e.g. ${restErrors.slice(0, 3).join('; ')}`);
    if (t.pushes.total !== t.pushes.ok) problems.push(`${t.pushes.total - t.pushes.ok} pushes failed, e.g. ${t.pushes.firstErrors.join('; ')}`);
    const state = server.state().ports;
    problems.push(...checkServerState(topo, state));
    const bindToReceivedMs: number[] = [];
    const bindToAppliedMs: number[] = [];
    if (fleet) {
      const got = await fleet.ask({ kind: 'collect', ports: topo.ports.map((p) => ({ host: p.host, portId: p.id })) }, 'collected');
      fleetCpuSeconds = got.cpuMs / 1000;
      problems.push(...checkHostPorts(topo, net, got.hosts, mode === 'hollow'));
      if (mode === 'hollow') problems.push(...(await checkNeighbors(topo, expectedNeighbors(topo, net, state), got.hosts, fleet)));
      const never: string[] = [];
      got.timings.forEach((tm, i) => {
        const sent = phase.outcomes[i]!.putSentAtMs;
        if (tm === null || sent === 0) never.push(topo.ports[i]!.id);
        else {
          bindToReceivedMs.push(tm.receivedAtMs - sent);
          bindToAppliedMs.push(tm.appliedAtMs - sent);
        }
      });
      if (never.length > 0) problems.push(`${never.length} ports have no time of arrival on their host: ${never.slice(0, 5).join(', ')}`);
    }
    progress(`${label}: checks ${problems.length === 0 ? 'ok' : `FAILED (${problems.length})`}`);
    return {
      mode, round, problems, bindSeconds: phase.seconds, serverCpuSeconds, fleetCpuSeconds, restFailures: restErrors.length, pushes: t.pushes,
      postMs: phase.outcomes.filter((x) => x.error === undefined).map((x) => x.postMs),
      putMs: phase.outcomes.filter((x) => x.error === undefined).map((x) => x.putMs),
      bindToReceivedMs, bindToAppliedMs,
    };
  } finally {
    client?.close();
    await server?.close();
    await fleet?.stop();
  }
}
