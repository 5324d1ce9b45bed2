// npm run soak at its smallest: one cycle per fault kind on 2 vhosts with 4 VMs each; every VM the
// store says exists is in the kernel and OVS, nothing else is, and nothing is left after.
import { execFile, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { namespacesWithPrefix, requireRoot } from '../fixtures/local-emulation.js';

requireRoot();
const repo = resolve(import.meta.dirname, '../..');

describe('npm run soak', () => {
  it('runs a cycle after each fault kind and ends with one JSON line: 0 leaks, lost, duplicated; nothing left', async () => {
    const out = await new Promise<{ code: number; stdout: string }>((done) => {
      execFile(process.execPath, [join(repo, 'bench/dist/soak/main.js'), '--cycles', '4', '--vhosts', '2', '--vms', '4'], { cwd: repo, maxBuffer: 16 * 1024 * 1024, timeout: 540_000, killSignal: 'SIGTERM' }, (e, stdout) => {
        done({ code: e === null ? 0 : typeof e.code === 'number' ? e.code : 1, stdout });
      });
    });
    const lines = out.stdout.trim().split('\n');
    const result = JSON.parse(lines.at(-1)!) as Record<string, unknown>;
    expect(result, out.stdout).toMatchObject({
      cycles: 4, faults: { 'agent-kill': 1, 'coordinator-kill': 1, 'vswitchd-restart': 1, 'alcor-errors': 1 },
      leaks: 0, lost: 0, duplicated: 0, failedCycles: 0, errors: [], ok: true,
    });
    expect(out.code).toBe(0);
    const prefix = /\(prefix (\S+), folder/.exec(out.stdout)![1]!;
    expect(namespacesWithPrefix(prefix)).toEqual([]);
    expect(readdirSync(tmpdir()).filter((f) => f.startsWith(`merak-soak-${prefix}-`))).toEqual([]);
    // No process of the run is left: none names its folder.
    const folder = /folder (\S+)\/local\)/.exec(out.stdout)![1]!;
    const mentioning = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(folder);
      } catch {
        return false;
      }
    });
    expect(mentioning).toEqual([]);
  }, 600_000);

  it('stopped by SIGINT after its first cycle: says so in its JSON line and leaves nothing', async () => {
    const child = spawn(process.execPath, [join(repo, 'bench/dist/soak/main.js'), '--cycles', '3', '--vhosts', '2', '--vms', '4'], { cwd: repo, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (/cycle 1: done/.test(stdout) && child.signalCode === null && !child.killed) child.kill('SIGINT');
    });
    const code = await exited;
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    expect(result, stdout).toMatchObject({ cycles: 1, leaks: 0, lost: 0, duplicated: 0, errors: ['stopped by SIGINT'], ok: false });
    expect(code).not.toBe(0);
    const prefix = /\(prefix (\S+), folder/.exec(stdout)![1]!;
    expect(namespacesWithPrefix(prefix)).toEqual([]);
    expect(readdirSync(tmpdir()).filter((f) => f.startsWith(`merak-soak-${prefix}-`))).toEqual([]);
  }, 300_000);
});
