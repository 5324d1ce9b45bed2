// OpenFlowConnection against a scripted switch on a temporary unix socket: handshake (and refusing
// a peer without 1.3), echo, batches answered by xid, closing from either side, timeouts and a
// switch that stops reading (backpressure). The real vswitchd is in test/openflow/.
import { mkdtempSync, rmSync } from 'node:fs';
import { type Server, type Socket, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MerakError } from '@merak/common';
import { OpenFlowConnection } from './connection.js';
import { OFPBFC, OFPET, OFPHFC, OFPP, ONF_BUNDLE_ERROR_BASE, ONF_EXPERIMENTER_ID } from './constants.js';
import {
  OpenFlowBundleError, OpenFlowClosedError, OpenFlowConnectError, OpenFlowEncodeError, OpenFlowFlowError, OpenFlowTimeoutError, OpenFlowVersionError,
} from './errors.js';
import type { FlowMod, LabeledFlowMod, Message, ParsedMessage } from './messages.js';
import { OpenFlowParser } from './parser.js';
import { serialize, serializeFlowMod } from './serializer.js';

interface Script {
  /** The switch's HELLO; vswitchd's (version 6, no bitmap) when absent. null = never say hello. */
  hello?: { version: number; versions: number[] } | null;
  /** An error for a flow_mod, or nothing to accept it. */
  refuse?(mod: FlowMod): [number, number] | undefined;
  /** Barrier requests are not answered. */
  silentBarrier?: boolean;
  /** An error for a bundled flow_mod at commit time (as OVS does for OFPFMFC_OVERLAP). */
  refuseAtCommit?(mod: FlowMod): [number, number] | undefined;
  /** Bundle opens are refused (OFPBFC_OUT_OF_BUNDLES). */
  refuseOpen?: boolean;
}

const REPLIES = { open_request: 'open_reply', close_request: 'close_reply', commit_request: 'commit_reply', discard_request: 'discard_reply' } as const;

class FakeSwitch {
  readonly received: ParsedMessage[] = [];
  readonly sockets: Socket[] = [];
  /** Flow mods of committed bundles, in order. */
  readonly committed: FlowMod[] = [];
  private readonly bundles = new Map<number, Array<{ mod: FlowMod; xid: number }>>();
  private readonly server: Server;

  private constructor(readonly path: string, script: Script) {
    this.server = createServer((s) => {
      this.sockets.push(s);
      const parser = new OpenFlowParser();
      s.on('error', () => undefined);
      s.on('data', (chunk: Buffer) => {
        for (const m of parser.push(chunk)) {
          this.received.push(m);
          this.answer(s, m, script);
        }
      });
    });
  }

  static async start(dir: string, script: Script = {}): Promise<FakeSwitch> {
    const sw = new FakeSwitch(join(dir, `sw${Math.random().toString(16).slice(2, 8)}.mgmt`), script);
    await new Promise<void>((resolve) => sw.server.listen(sw.path, resolve));
    return sw;
  }

  private answer(s: Socket, m: ParsedMessage, script: Script): void {
    const send = (msg: Message): boolean => s.write(serialize(msg, m.header.xid));
    if (m.type === 'hello' && script.hello !== null) {
      const h = script.hello ?? { version: 6, versions: [] };
      const bytes = serialize({ type: 'hello', versions: h.versions }, m.header.xid);
      bytes.writeUInt8(h.version, 0);
      s.write(bytes);
    } else if (m.type === 'barrier_request' && !script.silentBarrier) {
      send({ type: 'barrier_reply' });
    } else if (m.type === 'flow_mod') {
      const refusal = script.refuse?.(m.mod);
      if (refusal) send({ type: 'error', errorType: refusal[0], errorCode: refusal[1], data: serializeFlowMod(m.mod, m.header.xid) });
    } else if (m.type === 'bundle_add' && m.message.type === 'flow_mod') {
      // Like OVS: a refused add is answered at once and leaves the bundle open.
      const refusal = script.refuse?.(m.message.mod);
      if (refusal) send({ type: 'error', errorType: refusal[0], errorCode: refusal[1], data: serialize(m, m.header.xid) });
      else this.bundles.get(m.bundleId)?.push({ mod: m.message.mod, xid: m.header.xid });
    } else if (m.type === 'bundle_control' && m.controlType in REPLIES) {
      const { bundleId, controlType } = m;
      const bundleError = (code: number): boolean =>
        send({ type: 'error', errorType: OFPET.EXPERIMENTER, errorCode: ONF_BUNDLE_ERROR_BASE + code, experimenter: ONF_EXPERIMENTER_ID, data: Buffer.alloc(0) });
      if (controlType === 'open_request' && script.refuseOpen) {
        bundleError(OFPBFC.OUT_OF_BUNDLES);
        return;
      }
      if (controlType === 'open_request') this.bundles.set(bundleId, []);
      if (controlType === 'commit_request') {
        const entries = this.bundles.get(bundleId) ?? [];
        const bad = entries.find((e) => script.refuseAtCommit?.(e.mod));
        if (bad) {
          const [type, code] = script.refuseAtCommit!(bad.mod)!;
          s.write(serialize({ type: 'error', errorType: type, errorCode: code, data: Buffer.alloc(0) }, bad.xid));
          bundleError(OFPBFC.MSG_FAILED);
          this.bundles.delete(bundleId);
          return;
        }
        this.committed.push(...entries.map((e) => e.mod));
      }
      if (controlType !== 'open_request') this.bundles.delete(bundleId);
      send({ type: 'bundle_control', bundleId, controlType: REPLIES[controlType as keyof typeof REPLIES], flags: 0 });
    }
  }

  of<T extends ParsedMessage['type']>(type: T): Array<ParsedMessage & { type: T }> {
    return this.received.filter((m): m is ParsedMessage & { type: T } => m.type === type);
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const flow = (priority: number, label?: string): LabeledFlowMod => ({
  command: 'add', label, flow: { table: 0, priority, cookie: 1n, match: { inPort: priority }, actions: [{ type: 'output', port: OFPP.LOCAL }] },
});
const until = async (check: () => boolean, ms = 2000): Promise<void> => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 5));
  }
};

let dir = '';
const cleanups: Array<() => Promise<void>> = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'merak-of-'));
});
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  rmSync(dir, { recursive: true, force: true });
});

async function setup(script: Script = {}): Promise<{ sw: FakeSwitch; conn: OpenFlowConnection }> {
  const sw = await FakeSwitch.start(dir, script);
  cleanups.push(() => sw.stop());
  const conn = await OpenFlowConnection.connect(sw.path, { timeoutMs: 2000 });
  cleanups.unshift(() => conn.close());
  return { sw, conn };
}

describe('OpenFlowConnection: handshake', () => {
  it('says HELLO with 1.3 only and accepts vswitchd\'s (1.5, no bitmap)', async () => {
    const { sw } = await setup();
    expect(sw.received[0]).toMatchObject({ type: 'hello', header: { version: 4 }, versions: [4] });
  });

  it('accepts a bitmap that includes 1.3', async () => {
    await expect(setup({ hello: { version: 5, versions: [1, 4, 5] } })).resolves.toBeDefined();
  });

  it.each([
    ['1.0 only, no bitmap', { version: 1, versions: [] }, [1]],
    ['a bitmap without 1.3', { version: 6, versions: [1, 5, 6] }, [1, 5, 6]],
  ])('refuses a peer offering %s, and tells it why', async (_what, hello, offered) => {
    const sw = await FakeSwitch.start(dir, { hello });
    cleanups.push(() => sw.stop());
    const e = await OpenFlowConnection.connect(sw.path).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OpenFlowVersionError);
    expect(e).toMatchObject({ peerVersions: offered, path: sw.path, code: 'FAILED_PRECONDITION' });
    await until(() => sw.of('error').length === 1);
    expect(sw.of('error')[0]).toMatchObject({ errorType: OFPET.HELLO_FAILED, errorCode: OFPHFC.INCOMPATIBLE });
  });

  it('turns a HELLO_FAILED answer into OpenFlowVersionError', async () => {
    // resume(): read (and drop) our HELLO, or the socket never sees our end and never closes.
    const server = createServer((s) => s.resume().end(serialize({ type: 'error', errorType: OFPET.HELLO_FAILED, errorCode: 0, data: Buffer.alloc(0) }, 1)));
    const path = join(dir, 'refuser.mgmt');
    await new Promise<void>((r) => server.listen(path, r));
    cleanups.push(() => new Promise((r) => server.close(() => r())));
    await expect(OpenFlowConnection.connect(path)).rejects.toBeInstanceOf(OpenFlowVersionError);
  });

  it('names the path of a socket that is not there', async () => {
    const path = join(dir, 'br-missing.mgmt');
    const e = await OpenFlowConnection.connect(path).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OpenFlowConnectError);
    expect(e).toBeInstanceOf(MerakError);
    expect(e).toMatchObject({ path, code: 'UNAVAILABLE', message: expect.stringContaining(path) });
  });

  it('times out on a peer that never says HELLO', async () => {
    const sw = await FakeSwitch.start(dir, { hello: null });
    cleanups.push(() => sw.stop());
    const start = Date.now();
    await expect(OpenFlowConnection.connect(sw.path, { timeoutMs: 150 })).rejects.toBeInstanceOf(OpenFlowTimeoutError);
    expect(Date.now() - start).toBeLessThan(1500);
  });
});

describe('OpenFlowConnection: batches', () => {
  it('writes the mods, then one barrier, and resolves on its reply', async () => {
    const { sw, conn } = await setup();
    await conn.apply([flow(1), flow(2), flow(3)]);
    const after = sw.received.slice(1);
    expect(after.map((m) => m.type)).toEqual(['flow_mod', 'flow_mod', 'flow_mod', 'barrier_request']);
    const xids = after.map((m) => m.header.xid);
    expect(new Set(xids).size).toBe(4);
    expect(sw.of('flow_mod').map((m) => m.mod.flow.priority)).toEqual([1, 2, 3]);
  });

  it('names every refused mod (label, or table/priority/match) with the error names; the others stay', async () => {
    const { sw, conn } = await setup({
      refuse: (mod) => (mod.flow.priority === 2 ? [OFPET.BAD_ACTION, 10] : mod.flow.priority === 4 ? [OFPET.BAD_INSTRUCTION, 2] : undefined),
    });
    const e = await conn.apply([flow(1), flow(2, 'arp for 10.1.0.7'), flow(3), flow(4)]).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OpenFlowFlowError);
    const err = e as OpenFlowFlowError;
    expect(err.code).toBe('OPENFLOW');
    expect(err.failures.map((f) => [f.flow, f.typeName, f.codeName])).toEqual([
      ['arp for 10.1.0.7', 'OFPET_BAD_ACTION', 'OFPBAC_MATCH_INCONSISTENT'],
      ['table=0,priority=4,in_port=4', 'OFPET_BAD_INSTRUCTION', 'OFPBIC_BAD_TABLE_ID'],
    ]);
    expect(err.failures.map((f) => f.label)).toEqual(['arp for 10.1.0.7', undefined]);
    expect(err.message).toContain('refused 2 of 4');
    expect(err.stack).toContain('connection.test.ts'); // the caller's stack, not the socket's
    expect(sw.of('flow_mod')).toHaveLength(4);
    // The connection is still usable.
    await expect(conn.apply([flow(5)])).resolves.toBeUndefined();
  });

  it('keeps concurrent batches apart', async () => {
    const { conn } = await setup({ refuse: (mod) => (mod.flow.priority === 12 ? [OFPET.BAD_MATCH, 9] : undefined) });
    const [a, b] = await Promise.allSettled([conn.apply([flow(11), flow(12, 'bad')]), conn.apply([flow(13)]), conn.barrier()]);
    expect(a).toMatchObject({ status: 'rejected', reason: { failures: [{ flow: 'bad', codeName: 'OFPBMC_BAD_PREREQ' }] } });
    expect(b).toMatchObject({ status: 'fulfilled' });
  });

  it('refuses a mod it cannot encode before writing anything', async () => {
    const { sw, conn } = await setup();
    const bad: LabeledFlowMod = { command: 'add', label: 'broken', flow: { table: 0, priority: 1, cookie: 0n, match: { ethDst: 'nope' } } };
    const e = await conn.apply([flow(1), bad]).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OpenFlowEncodeError);
    expect(e).toMatchObject({ field: 'mods[1](broken).flow.match.ethDst' });
    await conn.barrier();
    expect(sw.received.slice(1).map((m) => m.type)).toEqual(['barrier_request']);
  });

  it('answers ECHO_REQUEST with the same xid and data', async () => {
    const { sw } = await setup();
    sw.sockets[0]!.write(serialize({ type: 'echo_request', data: Buffer.from('still there?') }, 4242));
    await until(() => sw.of('echo_reply').length === 1);
    expect(sw.of('echo_reply')[0]).toMatchObject({ header: { xid: 4242 }, data: Buffer.from('still there?') });
  });

  it('waits while the switch does not read, and finishes once it does (20,000 mods)', async () => {
    const { sw, conn } = await setup();
    const mods = Array.from({ length: 20_000 }, (_, i) => flow(i % 65536));
    sw.sockets[0]!.pause();
    let done = false;
    const applied = conn.apply(mods).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 100));
    expect(done).toBe(false);
    expect(sw.of('flow_mod').length).toBe(0);
    sw.sockets[0]!.resume();
    await applied;
    const got = sw.of('flow_mod');
    expect(got).toHaveLength(20_000);
    expect(got.every((m, i) => m.mod.flow.priority === i % 65536)).toBe(true);
    expect(sw.received.at(-1)?.type).toBe('barrier_request');
  });

  it('times out a barrier that is not answered, and ignores the late reply', async () => {
    const sw = await FakeSwitch.start(dir, { silentBarrier: true });
    cleanups.push(() => sw.stop());
    const conn = await OpenFlowConnection.connect(sw.path, { requestTimeoutMs: 100 });
    cleanups.unshift(() => conn.close());
    await expect(conn.apply([flow(1)])).rejects.toBeInstanceOf(OpenFlowTimeoutError);
    const barrier = sw.of('barrier_request')[0]!;
    sw.sockets[0]!.write(serialize({ type: 'barrier_reply' }, barrier.header.xid));
    await new Promise((r) => setTimeout(r, 20));
    expect(conn.closeReason).toBeUndefined();
  });
});

describe('OpenFlowConnection: bundles', () => {
  it('opens, adds each mod, asks a barrier, then commits ATOMIC|ORDERED; resolves on the commit reply', async () => {
    const { sw, conn } = await setup();
    await conn.apply([flow(1), flow(2)], { bundle: true });
    await conn.apply([flow(3)], { bundle: true });
    const after = sw.received.slice(1);
    expect(after.map((m) => (m.type === 'bundle_control' ? m.controlType : m.type))).toEqual([
      'open_request', 'bundle_add', 'bundle_add', 'barrier_request', 'commit_request',
      'open_request', 'bundle_add', 'barrier_request', 'commit_request',
    ]);
    const ids = sw.of('bundle_control').map((m) => m.bundleId);
    expect(ids.slice(0, 2)).toEqual([ids[0], ids[0]]);
    expect(ids[2]).not.toBe(ids[0]); // unique per connection
    expect(sw.of('bundle_control').every((m) => m.flags === 3)).toBe(true);
    for (const add of sw.of('bundle_add')) expect(add.message.header.xid).toBe(add.header.xid); // as OVS requires
    expect(sw.committed.map((m) => m.flow.priority)).toEqual([1, 2, 3]);
  });

  it('an add refused at once: discards the bundle, names only that flow, applies nothing', async () => {
    const { sw, conn } = await setup({ refuse: (mod) => (mod.flow.priority === 2 ? [OFPET.BAD_ACTION, 10] : undefined) });
    const e = await conn.apply([flow(1), flow(2, 'bad arp'), flow(3)], { bundle: true }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OpenFlowFlowError);
    const err = e as OpenFlowFlowError;
    expect(err.failures.map((f) => [f.label, f.codeName])).toEqual([['bad arp', 'OFPBAC_MATCH_INCONSISTENT']]);
    expect(err.bundleId).toBeGreaterThan(0);
    expect(err.message).toContain('none was applied');
    await until(() => sw.of('bundle_control').some((m) => m.controlType === 'discard_request'));
    expect(sw.of('bundle_control').map((m) => m.controlType)).toEqual(['open_request', 'discard_request']);
    expect(sw.committed).toEqual([]);
    await expect(conn.apply([flow(4)], { bundle: true })).resolves.toBeUndefined();
    expect(sw.committed.map((m) => m.flow.priority)).toEqual([4]);
  });

  it('a flow refused at commit is named; the commit error without a flow is OpenFlowBundleError', async () => {
    const { sw, conn } = await setup({ refuseAtCommit: (mod) => (mod.flow.priority === 6 ? [OFPET.FLOW_MOD_FAILED, 3] : undefined) });
    const e = await conn.apply([flow(5), flow(6, 'overlap')], { bundle: true }).catch((x: unknown) => x);
    expect(e).toMatchObject({ name: 'OpenFlowFlowError', failures: [{ label: 'overlap', codeName: 'OFPFMFC_OVERLAP' }] });
    expect(sw.committed).toEqual([]);
  });

  it('an open the switch refuses rejects with OpenFlowBundleError', async () => {
    const { sw, conn } = await setup({ refuseOpen: true });
    const e = await conn.apply([flow(1)], { bundle: true }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OpenFlowBundleError);
    expect(e).toMatchObject({ request: 'open', codeName: 'OFPBFC_OUT_OF_BUNDLES', message: expect.stringContaining('nothing of it was applied') });
    expect(sw.committed).toEqual([]);
  });

  it('waits while the switch does not read, and commits 20,000 mods once it does', async () => {
    const { sw, conn } = await setup();
    const mods = Array.from({ length: 20_000 }, (_, i) => flow(i % 65536));
    sw.sockets[0]!.pause();
    let done = false;
    const applied = conn.apply(mods, { bundle: true }).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 100));
    expect(done).toBe(false);
    sw.sockets[0]!.resume();
    await applied;
    expect(sw.committed).toHaveLength(20_000);
    expect(sw.committed.every((m, i) => m.flow.priority === i % 65536)).toBe(true);
  });

  it('rejects a pending bundle when the switch goes away', async () => {
    const { sw, conn } = await setup({ silentBarrier: true });
    const pending = conn.apply([flow(1)], { bundle: true }).catch((x: unknown) => x);
    await until(() => sw.of('barrier_request').length === 1);
    await sw.stop();
    expect(await pending).toBeInstanceOf(OpenFlowClosedError);
  });

  it('times out a bundle whose barrier is not answered, and discards it', async () => {
    const sw = await FakeSwitch.start(dir, { silentBarrier: true });
    cleanups.push(() => sw.stop());
    const conn = await OpenFlowConnection.connect(sw.path, { requestTimeoutMs: 100 });
    cleanups.unshift(() => conn.close());
    await expect(conn.apply([flow(1)], { bundle: true })).rejects.toBeInstanceOf(OpenFlowTimeoutError);
    await until(() => sw.of('bundle_control').some((m) => m.controlType === 'discard_request'));
  });
});

describe('OpenFlowConnection: closing', () => {
  it('rejects pending calls and announces closed when the switch goes away', async () => {
    const { sw, conn } = await setup({ silentBarrier: true });
    const pending = conn.apply([flow(1)]);
    await until(() => sw.of('barrier_request').length === 1);
    await sw.stop();
    const e = await pending.catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OpenFlowClosedError);
    expect(e).toMatchObject({ byPeer: true, code: 'UNAVAILABLE' });
    await conn.closed;
    expect(conn.closeReason?.byPeer).toBe(true);
    await expect(conn.barrier()).rejects.toBeInstanceOf(OpenFlowClosedError);
  });

  it('close() rejects pending calls as closed by us', async () => {
    const { conn } = await setup({ silentBarrier: true });
    const pending = conn.apply([flow(1)]).catch((e: unknown) => e);
    await conn.close();
    expect(await pending).toMatchObject({ name: 'OpenFlowClosedError', byPeer: false });
    await conn.closed;
    expect(conn.closeReason?.byPeer).toBe(false);
    await conn.close(); // twice is fine
  });
});
