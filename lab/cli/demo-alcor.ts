// `merak demo --provider alcor`: the same end-to-end run with Alcor as the control plane. The local
// emulation gets an address on its underlay for this machine; the Alcor-compatible server runs here
// for this run only, as a child process (recorded, so `merak local down` stops it too), and its NCM
// pushes each bound port's GoalState to the agent of its host, which programs it: the ping test
// then runs on the data plane Alcor's GoalState made. The server is stopped at the end, on failure
// and on SIGINT/SIGTERM.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MerakError } from '@merak/common';
import { type AlcorServerProcess, startAlcorServerProcess } from '../local/alcor-server-process.js';
import { ALCOR_NCM_PORT } from '../local/emulation.js';
import { Plan } from '@merak/coordinator';
import { alcorDemoScenarioYaml, parseScenario } from '@merak/coordinator';
import { connect } from './connect.js';
import type { DemoOptions } from './demo.js';
import { alcorServerRecordFile, localDown, localUp } from './local.js';
import { runScenario } from './run-scenario.js';

class InterruptedError extends MerakError {
  constructor(signal: string) {
    super('UNAVAILABLE', `interrupted (${signal}): stopped the Alcor-compatible server`, { context: { signal } });
  }
}

export async function alcorDemo(o: DemoOptions): Promise<boolean> {
  const log = (line: string): void => void process.stdout.write(`${line}\n`);
  const indent = (l: string): void => log(`      ${l}`.trimEnd());
  // A signal stops the server at once and ends the run at its next step (or the scenario's watch).
  const interrupted = new AbortController();
  let server: AlcorServerProcess | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    server?.signalStop();
    if (!interrupted.signal.aborted) interrupted.abort(new InterruptedError(signal));
  };
  const check = (): void => {
    if (interrupted.signal.aborted) throw interrupted.signal.reason as Error;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const t0 = Date.now();
  let ok = false;
  try {
    log(`[1/4] local emulation: ${o.hosts} vhosts on this machine, reachable from it; each agent serves GoalState on :50001 as Alcor's host agent would`);
    const up = await localUp({ dir: o.dir, hosts: o.hosts, prefix: o.prefix, log: indent, hostAccess: true });
    log(`      up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    check();
    const hostIp = up.emulation.hostIp!;
    const out = resolve(o.out);
    mkdirSync(out, { recursive: true });
    const logFile = join(out, 'alcor-server.log');
    log(`[2/4] the Alcor-compatible server on ${hostIp}, for this run only; its NCM (port ${ALCOR_NCM_PORT}) pushes GoalState to the agents`);
    server = await startAlcorServerProcess({ host: hostIp, ncmPort: ALCOR_NCM_PORT, seed: 1, logFile, recordFile: alcorServerRecordFile(o.dir) });
    indent(`listening at ${server.urls.port} (pid ${server.pid}; one JSON line per call in ${logFile})`);
    check();
    const text = alcorDemoScenarioYaml({ hosts: o.hosts, vms: o.vms, alcorUrl: server.urls.port! });
    log(`[3/4] scenario alcor-e2e: ${o.vms} VMs in VPC 10.1.0.0/16 (gateway 10.1.0.1, security group web, router1), ports allocated and bound by Alcor, each VM ready once its GoalState is programmed on its vhost; then a ping between every pair`);
    const client = connect({ localDir: o.dir });
    try {
      ok = (await runScenario(client, text, { out: o.out, format: 'yaml', log: indent, signal: interrupted.signal, replaces: parseScenario(text).name })).ok;
    } finally {
      client.close();
    }
    check();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await server?.stop();
    if (o.down || interrupted.signal.aborted) {
      log('[4/4] stopped the Alcor-compatible server; tearing the emulation down');
      await localDown(o.dir, indent);
    } else {
      log('[4/4] stopped the Alcor-compatible server (its state was in memory); the emulation stays up with the VMs as Alcor programmed them:');
      for (const line of inspectHints(o, alcorDemoScenarioYaml({ hosts: o.hosts, vms: o.vms, alcorUrl: 'http://127.0.0.1' }))) indent(line);
    }
  }
  return ok;
}

/** Commands a user can paste, naming a real VM of this run (the plan is deterministic). */
function inspectHints(o: DemoOptions, scenarioText: string): string[] {
  const vhost = `${o.prefix}-vhost-0`;
  const vm = new Plan(parseScenario(scenarioText), Array.from({ length: o.hosts }, (_, i) => `${o.prefix}-vhost-${i}`), '1').vm(0);
  return [
    'ip netns list | grep alcor-e2e                 # the VMs (network namespaces)',
    `ip netns exec ${vm.name} ip addr show eth0   # on ${vm.host}: the address and MAC Alcor gave it`,
    `ovs-ofctl -O OpenFlow13 dump-flows unix:${join(o.dir, 'emulation', vhost, 'ovs', 'br-tun.mgmt')}   # the neighbors GoalState programmed on ${vhost}`,
    `open ${join(o.out, 'report.html')}   # Alcor's bind: REST work vs GoalState push and programming`,
    'tear it all down:  npm run merak -- local down   (Alcor is gone: merak delete cannot reach it)',
  ];
}
