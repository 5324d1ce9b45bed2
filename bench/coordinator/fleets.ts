// The hollow fleets (hollow-fleet.ts), child processes of the bench: started, asked for their
// agents' reports over IPC, and stopped by PID (SIGTERM, then SIGKILL after 5 s).
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AgentTunnels, FleetReport } from './tunnel-digest.js';

export class FleetExitedError extends Error {
  constructor(readonly first: number, readonly code: number | null, readonly signal: NodeJS.Signals | null) {
    super(`the hollow fleet from vhost-${first} exited (${signal ?? `code ${code}`})`);
    this.name = 'FleetExitedError';
  }
}

const FLEET = join(dirname(fileURLToPath(import.meta.url)), 'hollow-fleet.js');

export class Fleets {
  private readonly children: Array<{ first: number; child: ChildProcess }> = [];

  constructor(private readonly coordinator: string, private readonly dir: string, private readonly token: string) {}

  /** Starts `count` agents from index `first` in one process; resolves once they are all up. */
  start(first: number, count: number): Promise<void> {
    const child = spawn(process.execPath, [FLEET, '--first', String(first), '--count', String(count), '--coordinator', this.coordinator, '--dir', this.dir], {
      env: { ...process.env, MERAK_TOKEN: this.token }, stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    });
    this.children.push({ first, child });
    return new Promise((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      child.once('exit', (code, signal) => reject(new FleetExitedError(first, code, signal)));
    });
  }

  /** Every agent's report, from every fleet still running. */
  async report(): Promise<AgentTunnels[]> {
    const reports = await Promise.all(this.children.filter(({ child }) => this.running(child)).map(({ first, child }) => new Promise<readonly AgentTunnels[]>((resolve, reject) => {
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void => reject(new FleetExitedError(first, code, signal));
      child.once('exit', onExit);
      const onMessage = (m: FleetReport): void => {
        if (m.type !== 'report') return;
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(m.agents);
      };
      child.on('message', onMessage);
      child.send({ type: 'report' });
    })));
    return reports.flat().sort((a, b) => a.index - b.index);
  }

  /** Stops the fleet that starts at `first` (its agents unregister). */
  stopOne(first: number): Promise<void> {
    const c = this.children.find((x) => x.first === first);
    return c ? this.stop(c.child) : Promise.resolve();
  }

  stopAll(): Promise<void> {
    return Promise.all(this.children.map(({ child }) => this.stop(child))).then(() => undefined);
  }

  /** A second signal: no time to wait. */
  killAll(): void {
    for (const { child } of this.children) if (this.running(child)) child.kill('SIGKILL');
  }

  private running(c: ChildProcess): boolean {
    return c.exitCode === null && c.signalCode === null;
  }

  private stop(c: ChildProcess): Promise<void> {
    if (!this.running(c)) return Promise.resolve();
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 5000);
    return exited.finally(() => clearTimeout(t));
  }
}
