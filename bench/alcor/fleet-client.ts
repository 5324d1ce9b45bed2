// The bench process's side of the fleet child: fork it, ask it things one at a time, stop it (and
// make sure it is gone, also when the bench is interrupted).
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FromFleet, ToFleet } from './fleet-protocol.js';

type Answer<K extends FromFleet['kind']> = Extract<FromFleet, { kind: K }>;

export class FleetError extends Error {
  constructor(message: string, readonly context: { pid: number | undefined }) {
    super(message);
    this.name = 'FleetError';
  }
}

/** Every child alive, so a signal handler can end them by their PID. */
export const liveFleets = new Set<ChildProcess>();
/** Every child ever started, to check from outside that none is left. */
export const startedFleetPids: number[] = [];

export class Fleet {
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;
  private pending: { want: FromFleet['kind']; resolve(m: FromFleet): void; reject(e: Error): void } | undefined;

  constructor() {
    this.child = fork(fileURLToPath(new URL('./fleet.js', import.meta.url)), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: ['--enable-source-maps'] });
    liveFleets.add(this.child);
    if (this.child.pid !== undefined) startedFleetPids.push(this.child.pid);
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => {
      liveFleets.delete(this.child);
      this.pending?.reject(new FleetError(`the fleet process exited (${signal ?? `code ${code}`})`, { pid: this.child.pid }));
      this.pending = undefined;
      resolve();
    }));
    this.child.on('message', (m: FromFleet) => {
      const p = this.pending;
      if (!p) return;
      this.pending = undefined;
      if (m.kind === 'failed') p.reject(new FleetError(`the fleet failed: ${m.error}`, { pid: this.child.pid }));
      else if (m.kind !== p.want) p.reject(new FleetError(`the fleet answered ${m.kind}, not ${p.want}`, { pid: this.child.pid }));
      else p.resolve(m);
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  ask<K extends FromFleet['kind']>(m: ToFleet, want: K): Promise<Answer<K>> {
    if (this.pending) return Promise.reject(new FleetError('one question at a time', { pid: this.child.pid }));
    return new Promise<Answer<K>>((resolve, reject) => {
      this.pending = { want, resolve: (a) => resolve(a as Answer<K>), reject };
      this.child.send(m);
    });
  }

  /** Asks the child to close its servers and exit; SIGKILL if it has not within `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    if (this.child.connected) this.child.send({ kind: 'stop' } satisfies ToFleet);
    else this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}
