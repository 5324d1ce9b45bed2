// The coordinator and the agent refuse to start without a token unless --insecure, and refuse TLS
// files that cannot work, each naming the flag to fix; they exit non-zero (2, a usage error).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_MAIN, COORDINATOR_MAIN, Spawned, makeCerts } from './harness.js';

let dir = '';
let n = 0;
const started: Spawned[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'merak-startup-'));
  makeCerts(join(dir, 'certs'));
  writeFileSync(join(dir, 'placeholder.crt'), 'REPLACE-ME-see-docs-security.md');
  writeFileSync(join(dir, 'token'), 'startup-token', { mode: 0o600 });
});

afterAll(async () => {
  for (const s of started) await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

const cert = (f: string): string => join(dir, 'certs', f);

function run(main: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Spawned {
  n++;
  const sockets = main === COORDINATOR_MAIN
    ? ['--listen', `unix:${join(dir, `c${n}.sock`)}`, '--http', `unix:${join(dir, `ch${n}.sock`)}`, '--state', join(dir, `s${n}.db`)]
    : ['--vhost', `v${n}`, '--hollow', '--listen', `unix:${join(dir, `a${n}.sock`)}`, '--http', `unix:${join(dir, `ah${n}.sock`)}`];
  const s = new Spawned(join(dir, `run-${n}.log`), main, [...sockets, ...args], env);
  started.push(s);
  return s;
}

describe.each([['coordinator', COORDINATOR_MAIN], ['agent', AGENT_MAIN]] as const)('the %s', (name, main) => {
  it('refuses to start without a token, naming --token-file, MERAK_TOKEN and --insecure', async () => {
    const s = run(main, []);
    expect(await s.exit()).toBe(2);
    const out = s.log();
    for (const word of ['--token-file', 'MERAK_TOKEN', '--insecure']) expect(out).toContain(word);
  });

  it('starts with MERAK_TOKEN, and with --insecure', async () => {
    for (const s of [run(main, [], { MERAK_TOKEN: 'from-env' }), run(main, ['--insecure'])]) {
      await s.waitLine(name === 'coordinator' ? 'coordinator ready' : 'agent ready');
      await s.stop();
    }
  });

  it('refuses a certificate without its key, a placeholder, and a key that is not the certificate\'s', async () => {
    const cases: [string[], string[]][] = [
      [['--tls-cert', cert('coordinator.crt')], ['--tls-cert', 'needs --tls-key']],
      [['--tls-key', cert('coordinator.key')], ['--tls-key', 'needs --tls-cert']],
      [['--tls-cert', join(dir, 'placeholder.crt'), '--tls-key', cert('coordinator.key')], ['--tls-cert', 'placeholder', 'docs/security.md']],
      [['--tls-cert', cert('coordinator.crt'), '--tls-key', cert('vhost.key')], ['--tls-key', 'does not go with']],
      [['--tls-cert', join(dir, 'absent.crt'), '--tls-key', cert('coordinator.key')], ['--tls-cert', 'cannot be read']],
    ];
    for (const [args, words] of cases) {
      const s = run(main, ['--token-file', join(dir, 'token'), ...args]);
      expect(await s.exit(), args.join(' ')).toBe(2);
      for (const w of words) expect(s.log(), args.join(' ')).toContain(w);
    }
  });
});

describe('the agent, dialing the coordinator', () => {
  it('refuses a CA that is not PEM, a server name without a CA, and a CA without a coordinator', async () => {
    const coordinator = ['--coordinator', `unix:${join(dir, 'nowhere.sock')}`];
    const cases: [string[], string[]][] = [
      [[...coordinator, '--tls-ca', join(dir, 'token')], ['--tls-ca', 'not a PEM certificate']],
      [[...coordinator, '--tls-server-name', 'coordinator'], ['--tls-server-name', 'needs --tls-ca']],
      [['--tls-ca', cert('ca.crt')], ['--tls-ca', 'give --coordinator']],
    ];
    for (const [args, words] of cases) {
      const s = run(AGENT_MAIN, ['--token-file', join(dir, 'token'), ...args]);
      expect(await s.exit(), args.join(' ')).toBe(2);
      for (const w of words) expect(s.log(), args.join(' ')).toContain(w);
    }
  });
});
