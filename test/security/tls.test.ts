// gRPC over TLS across a network (TCP on loopback), with certificates from deploy/make-certs.sh and
// the real binaries: an agent that verifies the coordinator registers and runs a scenario the CLI
// starts over TLS, and serves its own gRPC over TLS; an agent trusting another CA never registers;
// plaintext to the TLS coordinator fails, and says to give --tls-ca.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { loadClientTls } from '@merak/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient } from '../../lab/agent-client/agent-client.js';
import { waitFor } from '../fixtures/processes.js';
import { AGENT_MAIN, COORDINATOR_MAIN, Spawned, cli, coordinatorPort, makeCerts } from './harness.js';

const TOKEN = 'tls-test-token-0123456789';
let dir = '';
let port = 0;
let coordinator: Spawned | undefined;
const agents: Spawned[] = [];

const certs = (f: string): string => join(dir, 'certs', f);
const other = (f: string): string => join(dir, 'other', f);

/** The CLI against the TLS coordinator, dialed by IP with the name its certificate holds. */
const merak = (args: readonly string[], tls = true): ReturnType<typeof cli> =>
  cli([...args, '--coordinator', `127.0.0.1:${port}`, '--token-file', join(dir, 'token'), ...(tls ? ['--tls-ca', certs('ca.crt'), '--tls-server-name', 'coordinator'] : [])]);

function startAgent(vhost: string, extra: readonly string[]): Spawned {
  const a = new Spawned(join(dir, `${vhost}.log`), AGENT_MAIN, ['--vhost', vhost, '--hollow', '--http', `unix:${join(dir, `${vhost}-http.sock`)}`,
    '--token-file', join(dir, 'token'), '--coordinator', `127.0.0.1:${port}`, ...extra]);
  agents.push(a);
  return a;
}

/** The agent's 'coordinator link lost' log lines: why its Register stream broke. */
const linkFailures = (a: Spawned): string[] =>
  a.log().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg?: string; why?: string })
    .filter((o) => o.msg === 'coordinator link lost').map((o) => o.why ?? '');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'merak-tls-'));
  writeFileSync(join(dir, 'token'), TOKEN, { mode: 0o600 });
  makeCerts(join(dir, 'certs'));
  makeCerts(join(dir, 'other'));
  coordinator = new Spawned(join(dir, 'coordinator.log'), COORDINATOR_MAIN, ['--listen', '127.0.0.1:0', '--http', `unix:${join(dir, 'c-http.sock')}`,
    '--state', join(dir, 'state.db'), '--token-file', join(dir, 'token'), '--tls-cert', certs('coordinator.crt'), '--tls-key', certs('coordinator.key')]);
  port = await coordinatorPort(coordinator);
}, 60_000);

afterAll(async () => {
  for (const a of agents) await a.stop();
  await coordinator?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('TLS', () => {
  it('end to end: the agent verifies the coordinator and registers, a scenario runs, the agent serves TLS too', async () => {
    const a = startAgent('tls-1', ['--listen', '127.0.0.1:0', '--tls-cert', certs('vhost.crt'), '--tls-key', certs('vhost.key'),
      '--tls-ca', certs('ca.crt'), '--tls-server-name', 'coordinator']);
    const agentPort = Number((await a.waitLine('agent ready')).grpcPort);
    await waitFor(() => a.line('registered with the coordinator') !== undefined, 20_000, `tls-1 to register:\n${a.log()}`);
    // Nothing warns of a token in clear: both ends are TLS.
    expect(a.log()).not.toContain('in clear');
    expect(coordinator!.log()).not.toContain('in clear');

    const agentsOut = await merak(['agents']);
    expect(agentsOut.code, agentsOut.stderr).toBe(0);
    expect(agentsOut.stdout).toMatch(/^tls-1\s+yes\s/m);

    writeFileSync(join(dir, 'tiny.yaml'), 'name: tls-tiny\nhosts: { count: 1 }\nvpcs: [{ name: v, cidr: 10.5.0.0/24, subnets: [{ name: s, cidr: 10.5.0.0/24, vms: 4 }] }]\ntest: none\n');
    const run = await merak(['run', join(dir, 'tiny.yaml'), '--out', join(dir, 'report')]);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);

    // The agent's own gRPC: TLS with its certificate, verified with the same CA; plaintext fails.
    const tls = loadClientTls(certs('ca.crt'), 'localhost');
    const owner = new AgentClient(`127.0.0.1:${agentPort}`, { token: TOKEN, tls });
    const plain = new AgentClient(`127.0.0.1:${agentPort}`, { token: TOKEN, deadlineMs: 5000 });
    try {
      expect((await owner.listVms()).vms).toHaveLength(4);
      await expect(plain.listVms()).rejects.toMatchObject({ code: status.UNAVAILABLE });
    } finally {
      owner.close();
      plain.close();
    }
  });

  it('an agent that trusts another CA is refused: it never registers, and its log says the certificate is not verified', async () => {
    const a = startAgent('tls-wrong-ca', ['--listen', `unix:${join(dir, 'wrong.sock')}`, '--tls-ca', other('ca.crt'), '--tls-server-name', 'coordinator']);
    await waitFor(() => linkFailures(a).length >= 2, 20_000, `tls-wrong-ca to fail to connect:\n${a.log()}`);
    expect(linkFailures(a)[0]).toMatch(/certificate/);
    expect(a.line('registered with the coordinator')).toBeUndefined();
    const out = await merak(['agents']);
    expect(out.stdout).not.toContain('tls-wrong-ca');
  });

  it('plaintext to the TLS coordinator fails: the CLI says to give --tls-ca, an agent never registers', async () => {
    const out = await merak(['agents'], false);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('if it serves TLS, give --tls-ca');

    const a = startAgent('tls-plain', ['--listen', `unix:${join(dir, 'plain.sock')}`]);
    await waitFor(() => linkFailures(a).length >= 2, 20_000, `tls-plain to fail to connect:\n${a.log()}`);
    expect(a.line('registered with the coordinator')).toBeUndefined();
    expect((await merak(['agents'])).stdout).not.toContain('tls-plain');
  });
});
