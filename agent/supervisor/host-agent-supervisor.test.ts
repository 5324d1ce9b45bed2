// The host-agent supervisor with real child processes (node itself plays the host agent).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { startAgent } from '../agent.js';
import { parseAgentConfig } from '../config.js';
import { InvalidArgumentError } from '@merak/common';
import { createHollowBackend } from '../hollow-backend.js';
import { HostAgentSupervisor, type HostAgentStatus, splitCommand } from './host-agent-supervisor.js';

const logger = pino({ level: 'silent' });
const until = async (what: string, ok: () => boolean, ms = 10_000): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('splitCommand', () => {
  it('splits words with quotes and escapes, and refuses what it cannot read', () => {
    expect(splitCommand('f', `/opt/aca/AlcorControlAgent -a 10.0.0.5 -p "30014" --name 'my host' a\\ b`)).toEqual(['/opt/aca/AlcorControlAgent', '-a', '10.0.0.5', '-p', '30014', '--name', 'my host', 'a b']);
    expect(() => splitCommand('--host-agent', 'x "y')).toThrow(InvalidArgumentError);
    expect(() => splitCommand('--host-agent', '   ')).toThrow(/--host-agent: is empty/);
  });
});

describe('HostAgentSupervisor', () => {
  it('restarts a host agent that exits, with growing backoff, and reports it as not ready meanwhile', async () => {
    const changes: HostAgentStatus[] = [];
    const s = new HostAgentSupervisor({
      argv: [process.execPath, '-e', 'console.log("aca up"); setTimeout(() => process.exit(3), 100)'], logger,
      initialBackoffMs: 50, maxBackoffMs: 200, onChange: (c) => changes.push(c),
    });
    await until('a running host agent', () => s.status().state === 'running');
    expect(() => s.check()).not.toThrow();
    await until('two restarts', () => s.status().restarts >= 2);
    expect(changes.some((c) => c.state === 'backoff' && c.lastExit === 'exit 3')).toBe(true);
    await until('backoff', () => s.status().state === 'backoff');
    expect(() => s.check()).toThrow(/host agent .* is backoff \(last: exit 3\), restarted \d+ times/);
    await s.stop();
    expect(s.status().state).toBe('stopped');
    const restarts = s.status().restarts;
    await new Promise((r) => setTimeout(r, 400));
    expect(s.status().restarts).toBe(restarts);
  });

  it('stops a host agent that ignores SIGTERM with SIGKILL, and reports one that cannot start', async () => {
    // The child says when it ignores SIGTERM (a file), so a slow start cannot be taken for a fast stop.
    const dir = mkdtempSync(join(tmpdir(), 'merak-sup-'));
    const marker = join(dir, 'ignoring');
    const s = new HostAgentSupervisor({
      argv: [process.execPath, '-e', `process.on("SIGTERM", () => {}); require("fs").writeFileSync(${JSON.stringify(marker)}, ""); setInterval(() => {}, 1000)`],
      logger, stopGraceMs: 200,
    });
    await until('a host agent that ignores SIGTERM', () => existsSync(marker));
    const pid = s.status().pid!;
    await s.stop();
    rmSync(dir, { recursive: true, force: true });
    expect(alive(pid)).toBe(false);
    expect(s.status()).toMatchObject({ state: 'stopped', lastExit: 'signal SIGKILL' });

    const missing = new HostAgentSupervisor({ argv: ['/nonexistent/aca'], logger, initialBackoffMs: 1000 });
    await until('a failed start', () => missing.status().state === 'backoff');
    expect(missing.status().lastExit).toBe('spawn: ENOENT');
    expect(() => missing.check()).toThrow(/spawn: ENOENT/);
    await missing.stop();
  });
});

describe('an agent with --host-agent', () => {
  it('starts it, shows it in /readyz and /metrics, and stops it with itself', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'merak-host-agent-'));
    const get = (path: string): Promise<string> => new Promise((resolve, reject) => {
      request({ socketPath: join(dir, 'h.sock'), path }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve(`${res.statusCode} ${body}`));
      }).on('error', reject).end();
    });
    try {
      const config = parseAgentConfig(['--vhost', 'v', '--hollow', '--insecure', '--listen', `unix:${join(dir, 'a.sock')}`, '--http', `unix:${join(dir, 'h.sock')}`,
        '--host-agent', `${process.execPath} -e "setInterval(() => {}, 1000)"`], {});
      if (config === 'help') throw new Error('unexpected');
      const agent = await startAgent(config, createHollowBackend(), logger);
      let ready = '';
      for (let i = 0; i < 100 && !ready.startsWith('200'); i++) {
        ready = await get('/readyz');
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(ready).toMatch(/^200 [^]*host-agent: ok/);
      expect(await get('/metrics')).toMatch(/merak_agent_host_agent_up\{vhost="v"\} 1/);
      await agent.stop(1000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
