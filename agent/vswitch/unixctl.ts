// JSON-RPC 1.0 over an OVS daemon's control socket: what `ovs-appctl -t <path> <method> <params>`
// does, without a process. Checked against OVS 3.1: a request is {"id","method","params":[strings]};
// a reply is {"id","result":"text\n","error":null} or {"id","error":"text\n"} (no result key). The
// daemon answers one request at a time per connection, in order, so pipelining calls is safe.
import { existsSync, readFileSync } from 'node:fs';
import { type Socket, createConnection } from 'node:net';
import { join } from 'node:path';
import { errorMessage } from '@merak/common';
import { JsonStream } from '@merak/common';
import { UnixctlConnectionError, UnixctlError, UnixctlTimeoutError, VswitchdControlNotFoundError } from './unixctl-errors.js';

export { UnixctlConnectionError, UnixctlError, UnixctlTimeoutError, VswitchdControlNotFoundError } from './unixctl-errors.js';

export interface UnixctlOptions {
  /** Bounds the connect and, by default, every call. */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 5000;

interface Pending {
  method: string;
  params: readonly string[];
  resolve(text: string): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
  /** The caller's stack: the rejection happens later, on a socket event. */
  site: string | undefined;
}

interface Reply {
  id?: unknown;
  result?: unknown;
  error?: unknown;
}

export class UnixctlClient {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;

  private constructor(readonly path: string, private readonly socket: Socket, private readonly timeoutMs: number) {
    const stream = new JsonStream();
    socket.on('data', (chunk: Buffer) => {
      let replies: unknown[];
      try {
        replies = stream.push(chunk);
      } catch (e) {
        this.fail('protocol', `undecodable reply (${errorMessage(e)})`, undefined, e);
        socket.destroy();
        return;
      }
      for (const r of replies) this.onReply(r);
    });
    socket.on('error', (e: NodeJS.ErrnoException) => this.fail('closed', `connection failed (${e.code ?? e.message})`, e.code, e));
    socket.on('close', () => this.fail('closed', 'connection closed'));
  }

  /** Connects to a control socket, e.g. the path vswitchdControlPath() returns. */
  static connect(path: string, options: UnixctlOptions = {}): Promise<UnixctlClient> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const socket = createConnection(path);
      const onError = (e: NodeJS.ErrnoException): void => {
        clearTimeout(timer);
        reject(new UnixctlConnectionError(path, 'connect', `cannot connect (${e.code ?? e.message})`, e.code, e));
      };
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new UnixctlTimeoutError(path, 'connect', timeoutMs));
      }, timeoutMs);
      socket.once('error', onError);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        resolve(new UnixctlClient(path, socket, timeoutMs));
      });
    });
  }

  /** Runs one command; resolves with its output text as the daemon sent it (usually ending in "\n"). */
  call(method: string, params: readonly string[] = []): Promise<string> {
    const site = new Error().stack;
    if (this.closed) return Promise.reject(withCaller(new UnixctlConnectionError(this.path, 'closed', `connection closed, cannot send ${method}`), site));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(withCaller(new UnixctlTimeoutError(this.path, method, this.timeoutMs), site));
      }, this.timeoutMs);
      this.pending.set(id, { method, params: [...params], resolve, reject, timer, site });
      this.socket.write(JSON.stringify({ id, method, params }));
    });
  }

  /** Closes the connection; calls still pending reject with UnixctlConnectionError ('closed'). */
  close(): void {
    this.fail('closed', 'connection closed by the client');
    this.socket.destroy();
  }

  private onReply(value: unknown): void {
    if (typeof value !== 'object' || value === null) return;
    const r = value as Reply;
    if (typeof r.id !== 'number') return;
    const p = this.pending.get(r.id);
    if (!p) return; // timed out already
    this.pending.delete(r.id);
    clearTimeout(p.timer);
    if (r.error !== undefined && r.error !== null) {
      const text = typeof r.error === 'string' ? r.error.replace(/\n$/, '') : JSON.stringify(r.error);
      p.reject(withCaller(new UnixctlError(this.path, p.method, p.params, text), p.site));
    } else if (typeof r.result === 'string') {
      p.resolve(r.result);
    } else {
      p.reject(withCaller(new UnixctlConnectionError(this.path, 'protocol', `${p.method}: reply without a text result`), p.site));
    }
  }

  private fail(reason: 'closed' | 'protocol', detail: string, errno?: string, cause?: unknown): void {
    this.closed = true;
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      clearTimeout(p.timer);
      p.reject(withCaller(new UnixctlConnectionError(this.path, reason, `${detail} before ${p.method} was answered`, errno, cause), p.site));
    }
  }
}

function withCaller<E extends Error>(e: E, site: string | undefined): E {
  if (site) e.stack = `${e.stack ?? e.message}\n    --- for call at ---\n${site.slice(site.indexOf('\n') + 1)}`;
  return e;
}

/**
 * Where ovs-vswitchd's control socket is in `rundir`: `ovs-vswitchd.ctl` when it was started with
 * `--unixctl=<rundir>/ovs-vswitchd.ctl` (our local emulation), else the default
 * `ovs-vswitchd.<pid>.ctl` with the pid from `ovs-vswitchd.pid` (Debian's /var/run/openvswitch).
 */
export function vswitchdControlPath(rundir: string): string {
  const fixed = join(rundir, 'ovs-vswitchd.ctl');
  if (existsSync(fixed)) return fixed;
  const pidFile = join(rundir, 'ovs-vswitchd.pid');
  let pid: string | undefined;
  try {
    pid = /^\d+$/.exec(readFileSync(pidFile, 'utf8').trim())?.[0];
  } catch {
    // no pid file: named below as the second path tried
  }
  const byPid = pid === undefined ? undefined : join(rundir, `ovs-vswitchd.${pid}.ctl`);
  if (byPid !== undefined && existsSync(byPid)) return byPid;
  throw new VswitchdControlNotFoundError(rundir, [fixed, byPid ?? pidFile]);
}
