// bench:agent leaves nothing behind: run at a tiny size (the agent's way only) to its end, and once
// stopped by SIGINT in the middle of its batch, then checked from outside: no namespace or link
// with its prefix, no process naming its folder, no folder.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { stopPid } from '../fixtures/processes.js';

const repo = resolve(import.meta.dirname, '../..');
const benchMain = join(repo, 'bench/dist/agent/main.js');

const namespaces = (prefix: string): string[] =>
  execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(prefix));
const links = (prefix: string): string[] =>
  (JSON.parse(execFileSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8' }) || '[]') as Array<{ ifname: string }>).map((l) => l.ifname).filter((n) => n.startsWith(prefix));
function processesNaming(text: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const zombie = readFileSync(`/proc/${e}/stat`, 'utf8').split(') ')[1]?.startsWith('Z');
      if (!zombie && readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').join(' ').includes(text)) out.push(Number(e));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

interface BenchRun {
  readonly child: ChildProcess;
  output: string;
  /** From the bench's first line: "bench: prefix mb…, folder /tmp/merak-bench-…". */
  prefix?: string;
  dir?: string;
  readonly exited: Promise<number | null>;
}

const runs: BenchRun[] = [];

function startBench(args: string[], env: NodeJS.ProcessEnv = {}): BenchRun {
  const child = spawn(process.execPath, [benchMain, ...args], { cwd: repo, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const r: BenchRun = { child, output: '', exited: new Promise((done) => child.once('exit', (code) => done(code))) };
  const take = (d: Buffer): void => {
    r.output += d.toString();
    const m = /bench: prefix (\S+), folder (\S+)/.exec(r.output);
    if (m) [r.prefix, r.dir] = [m[1]!, m[2]!];
  };
  child.stdout!.on('data', take);
  child.stderr!.on('data', take);
  runs.push(r);
  return r;
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** What the run left, seen from outside. */
function leftBy(r: BenchRun): string[] {
  return [
    ...namespaces(r.prefix!).map((n) => `namespace ${n}`),
    ...links(r.prefix!).map((l) => `link ${l}`),
    ...processesNaming(r.dir!).map((p) => `process ${p}`),
    ...(existsSync(r.dir!) ? [`folder ${r.dir}`] : []),
  ];
}

// Whatever a failed test left: the bench by PID, then what carries its prefix or names its folder.
afterEach(async () => {
  for (const r of runs.splice(0)) {
    if (r.child.exitCode === null && r.child.signalCode === null) await stopPid(r.child.pid!);
    if (!r.prefix || !r.dir) continue;
    for (const pid of processesNaming(r.dir)) await stopPid(pid);
    for (const n of namespaces(r.prefix)) execFileSync('ip', ['netns', 'delete', n]);
    rmSync(r.dir, { recursive: true, force: true });
  }
});

describe('bench:agent cleans up', () => {
  test('a tiny run of the agent way ends with its JSON line and leaves nothing', async () => {
    const r = startBench(['--vms', '3', '--ways', 'agent-veth']);
    const code = await r.exited;
    expect(r.output).toContain(`bench: nothing of ${r.prefix} is left`);
    expect(code).toBe(0);
    const last = r.output.trim().split('\n').at(-1)!;
    expect(JSON.parse(last)).toMatchObject({ vms: 3 });
    expect(leftBy(r)).toEqual([]);
  }, 120_000);

  test('an agent that does not stop on SIGTERM (killed after its grace) still leaves nothing', async () => {
    // The agent spins in its first SIGTERM listener, as a busy agent at 1000s of VMs was slow to
    // stop: the launcher SIGKILLs it after 10 s. Waiting for that exit once made Node exit early
    // with code 0, skipping the cleanup (ovsdb-server, namespace and folder were left).
    const r = startBench(['--vms', '2', '--ways', 'agent-veth'], { MERAK_AGENT_NODE_FLAGS: "--import=data:text/javascript,process.prependListener('SIGTERM',()=>{for(;;);})" });
    const code = await r.exited;
    expect(r.output).toContain(`bench: nothing of ${r.prefix} is left`);
    expect(code).toBe(0);
    expect(JSON.parse(r.output.trim().split('\n').at(-1)!)).toMatchObject({ vms: 2 });
    expect(leftBy(r)).toEqual([]);
  }, 120_000);

  test('SIGINT in the middle of the batch: the run stops, says so, and leaves nothing', async () => {
    // Two at a time, so the batch lasts long enough to be interrupted with VMs made.
    const r = startBench(['--vms', '60', '--agent-concurrency', '2', '--ways', 'agent-veth']);
    await until(() => r.prefix !== undefined && namespaces(r.prefix).some((n) => !n.endsWith('-vhost')) || r.child.exitCode !== null, 60_000, 'the first VM namespace');
    expect(r.child.exitCode).toBeNull();
    r.child.kill('SIGINT');
    const code = await r.exited;
    expect(r.output).toContain('stopped by SIGINT');
    expect(r.output).toContain(`bench: nothing of ${r.prefix} is left`);
    expect(code).not.toBe(0);
    expect(leftBy(r)).toEqual([]);
  }, 120_000);
});
