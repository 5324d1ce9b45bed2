// Coordinator benchmark: a scenario of N VMs fanned out to M hollow agents (the real agent and its
// gRPC API with no kernel work, several agents per process). The coordinator (engine, store,
// registry, gRPC) runs in this process alone, so its CPU time and peak RSS are what is measured.
//
// Usage: npm run bench:coordinator -- [--vms N] [--agents M] [--per-process K] [--cpu-prof FILE]
// The last line of output is one JSON object.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { requireToken } from '@merak/common';
import { AgentRegistry, DEFAULT_FANOUT, TunnelSets, ScenarioEngine, Store, createCoordinatorService, standaloneControlPlane } from '@merak/coordinator';
import { coordinatorV1 } from '@merak/proto';
import { pino } from 'pino';
import { StopOnSignals, runBenchMain } from './common/lifecycle.js';

/** The hollow fleets, killed by PID on a hard exit (a second signal). */
const children: ChildProcess[] = [];
// SIGINT/SIGTERM end the wait in flight; the `finally` stops the fleets and removes the folder.
const stop = new StopOnSignals(() => {
  for (const c of children) c.kill('SIGKILL');
});

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { vms: { type: 'string', default: '1000000' }, agents: { type: 'string', default: '10000' }, 'per-process': { type: 'string', default: '2500' }, 'cpu-prof': { type: 'string' } },
  });
  const vms = Number(values.vms);
  const agents = Number(values.agents);
  const perProcess = Number(values['per-process']);
  if (!Number.isInteger(vms) || vms < 1 || !Number.isInteger(agents) || agents < 1 || !Number.isInteger(perProcess) || perProcess < 1) {
    throw new Error('--vms, --agents and --per-process must be positive integers');
  }
  const dir = mkdtempSync(join(tmpdir(), 'merak-cbench-'));
  const token = randomBytes(16).toString('hex');
  const logger = pino({ level: 'warn' });
  const store = new Store(join(dir, 'state.db'));
  // The coordinator as main.ts composes it (heartbeat interval and all), in this process.
  const registry = new AgentRegistry();
  const tunnelSets = new TunnelSets({ clientFor: (h) => registry.clientFor(h), underlayIp: (h) => registry.get(h)?.underlayIp, type: 'vxlan', logger });
  const engine = new ScenarioEngine({
    store, registry, logger, agents: registry, controlPlanes: { standalone: standaloneControlPlane({ tunnelSets, logger }) },
    fanout: { ...DEFAULT_FANOUT, chunkSize: 5000, agentParallelism: 512, vmConcurrency: 256 },
  });
  const server = new Server({ 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
  server.addService(coordinatorV1.CoordinatorService, requireToken(createCoordinatorService(engine, registry), token));
  const sock = join(dir, 'coordinator.sock');
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix:${sock}`, ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));

  const fleet = join(dirname(fileURLToPath(import.meta.url)), 'hollow-fleet.js');
  let progress: NodeJS.Timeout | undefined;
  try {
    console.log(`starting ${agents} hollow agents in ${Math.ceil(agents / perProcess)} processes…`);
    const ready: Promise<void>[] = [];
    for (let first = 0; first < agents; first += perProcess) {
      const child = spawn(process.execPath, [fleet, '--first', String(first), '--count', String(Math.min(perProcess, agents - first)), '--coordinator', `unix:${sock}`, '--dir', dir], {
        env: { ...process.env, MERAK_TOKEN: token }, stdio: ['ignore', 'pipe', 'inherit'],
      });
      children.push(child);
      ready.push(new Promise((resolve, reject) => {
        child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
        child.once('exit', (code) => reject(new Error(`a hollow fleet exited with ${code}`)));
      }));
    }
    await stop.race(Promise.all(ready));
    while (registry.connected().length < agents) await stop.sleep(100);
    console.log(`${agents} agents registered; creating ${vms} VMs…`);
    const text = JSON.stringify({
      name: 'bench', hosts: { count: agents }, test: { type: 'none' },
      vpcs: [{ name: 'vpc1', cidr: '10.0.0.0/8', subnets: [{ name: 's1', cidr: '10.0.0.0/8', vms }] }],
    });
    // --cpu-prof FILE: a CPU profile of the measured window only (not of the fleet's start).
    const profiler = values['cpu-prof'] ? new Session() : undefined;
    if (profiler) {
      profiler.connect();
      await new Promise<void>((r) => profiler.post('Profiler.enable', () => profiler.post('Profiler.start', () => r())));
    }
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    progress = setInterval(() => {
      const s = engine.list()[0];
      if (s) process.stdout.write(`\r  ${s.counts.ready + s.counts.failed}/${vms} VMs`);
    }, 1000);
    const created = engine.create(text, 'json');
    await stop.race(engine.settled(created.id));
    clearInterval(progress);
    const wallSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    if (profiler) {
      await new Promise<void>((resolve, reject) => profiler.post('Profiler.stop', (e, r) => {
        if (e) return reject(e);
        writeFileSync(values['cpu-prof']!, JSON.stringify(r.profile));
        resolve();
      }));
      profiler.disconnect();
    }
    const status = engine.status(created.id)!;
    console.log(`\n${status.counts.ready} ready, ${status.counts.failed} failed, phase ${status.phase}${status.error ? `: ${status.error}` : ''}`);
    for (const f of status.report?.failures.first.slice(0, 3) ?? []) console.log(`  failed: ${f.vm} on ${f.host}: [${f.code}] ${f.message}`);
    const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;
    console.log(JSON.stringify({
      vms, agents,
      cpuMicrosPerVm: round((cpu.user + cpu.system) / vms, 2),
      peakRssMiB: round(process.resourceUsage().maxRSS / 1024),
      wallSeconds: round(wallSeconds, 2),
    }));
  } finally {
    clearInterval(progress);
    // SIGTERM, then SIGKILL to a fleet that has not exited 5 s later.
    await Promise.all(children.map((c) => {
      if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      const t = setTimeout(() => c.kill('SIGKILL'), 5000);
      return exited.finally(() => clearTimeout(t));
    }));
    server.forceShutdown();
    registry.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

runBenchMain(main);
