// Supervises a host agent process that lives beside the agent in the vhost (Alcor's ACA, which
// programs the vhost's OVS from Alcor's goal states): started at once, restarted with capped
// exponential backoff whenever it exits, its output logged line by line, its state in /readyz and
// in metrics, stopped (SIGTERM, then SIGKILL) when the agent stops. The only child process the
// agent runs, and never on the VM data path. (Merak started ACA with `bash -c` and never looked.)
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Logger } from 'pino';
import { InvalidArgumentError, MerakError } from '@merak/common';

export type HostAgentState = 'starting' | 'running' | 'backoff' | 'stopped';

export interface HostAgentStatus {
  readonly state: HostAgentState;
  readonly pid: number | undefined;
  readonly restarts: number;
  /** How it ended last time ("exit 3", "signal SIGKILL", "spawn: ENOENT"). */
  readonly lastExit: string;
}

export interface SupervisorOptions {
  readonly argv: readonly string[];
  readonly logger: Logger;
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** Running this long counts as healthy again: the next crash starts from the initial backoff. */
  readonly stableAfterMs?: number;
  readonly stopGraceMs?: number;
  /** Called on every state change (metrics). */
  readonly onChange?: (s: HostAgentStatus) => void;
}

/** Splits a command line into words, with '…' and "…" quoting and \ escapes; no shell, no expansion. */
export function splitCommand(field: string, text: string): string[] {
  const words: string[] = [];
  let word = '';
  let quote: '"' | "'" | undefined;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < text.length) word += text[++i];
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < text.length) {
      word += text[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote) throw new InvalidArgumentError(field, `unterminated ${quote} quote in '${text}'`);
  if (inWord) words.push(word);
  if (words.length === 0) throw new InvalidArgumentError(field, 'is empty');
  return words;
}

export class HostAgentSupervisor {
  private child: ChildProcess | undefined;
  private state: HostAgentState = 'starting';
  private restarts = 0;
  private lastExit = '';
  private backoffMs: number;
  private timer: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private stopping = false;

  constructor(private readonly opts: SupervisorOptions) {
    this.backoffMs = opts.initialBackoffMs ?? 1000;
    this.launch();
  }

  status(): HostAgentStatus {
    return { state: this.state, pid: this.child?.pid, restarts: this.restarts, lastExit: this.lastExit };
  }

  /** For /readyz: throws unless the host agent runs. */
  check(): void {
    if (this.state !== 'running') {
      throw new MerakError('UNAVAILABLE', `host agent ${this.opts.argv[0]} is ${this.state}${this.lastExit ? ` (last: ${this.lastExit})` : ''}, restarted ${this.restarts} times`);
    }
  }

  private set(state: HostAgentState): void {
    this.state = state;
    this.opts.onChange?.(this.status());
  }

  private launch(): void {
    const [cmd, ...args] = this.opts.argv;
    const log = this.opts.logger.child({ hostAgent: cmd });
    this.set('starting');
    const child = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.startedAt = Date.now();
    for (const stream of [child.stdout!, child.stderr!]) createInterface({ input: stream }).on('line', (line) => log.info({ line }, 'host agent output'));
    child.once('spawn', () => {
      log.info({ pid: child.pid, args }, 'host agent started');
      this.set('running');
    });
    let ended = false;
    const end = (how: string): void => {
      if (ended) return;
      ended = true;
      this.child = undefined;
      this.lastExit = how;
      if (this.stopping) {
        this.set('stopped');
        return;
      }
      if (Date.now() - this.startedAt >= (this.opts.stableAfterMs ?? 60_000)) this.backoffMs = this.opts.initialBackoffMs ?? 1000;
      log.warn({ how, restartInMs: this.backoffMs }, 'host agent ended; restarting it');
      this.set('backoff');
      this.timer = setTimeout(() => {
        this.restarts++;
        this.launch();
      }, this.backoffMs);
      this.backoffMs = Math.min(this.backoffMs * 2, this.opts.maxBackoffMs ?? 30_000);
    };
    child.once('error', (e: NodeJS.ErrnoException) => end(`spawn: ${e.code ?? e.message}`));
    child.once('exit', (code, signal) => end(signal ? `signal ${signal}` : `exit ${code}`));
  }

  /** Stops it (and any restart pending): SIGTERM, then SIGKILL after the grace time. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      this.set('stopped');
      return;
    }
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const kill = setTimeout(() => child.kill('SIGKILL'), this.opts.stopGraceMs ?? 5000);
    await exited;
    clearTimeout(kill);
  }
}
