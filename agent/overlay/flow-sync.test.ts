import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { Flow, FlowMod } from '../openflow/index.js';
import { type FlowConnection, FlowSync } from './flow-sync.js';

/** A connection that records every batch; `drop()` plays vswitchd going away. */
function recorder(): { connect: () => Promise<FlowConnection>; batches: Array<Array<[FlowMod['command'], string]>>; drop(): void; opened: number } {
  const r = {
    batches: [] as Array<Array<[FlowMod['command'], string]>>,
    opened: 0,
    drop: () => undefined as void,
    connect: async (): Promise<FlowConnection> => {
      r.opened++;
      let end!: () => void;
      const closed = new Promise<void>((res) => (end = res));
      r.drop = () => end();
      return {
        closed,
        close: () => end(),
        apply: async (mods, options) => {
          expect(options).toEqual({ bundle: true });
          r.batches.push(mods.map((m) => [m.command, m.command === 'delete' && m.flow.table === 0xff ? 'all' : `${m.flow.priority}/${m.flow.match.ethDst ?? m.flow.match.arpTpa ?? ''}`]));
        },
      };
    },
  };
  return r;
}

const flow = (priority: number, ethDst: string, port = 1): Flow => ({ table: 1, priority, cookie: 3n, match: { vlanVid: 1, ethDst }, actions: [{ type: 'output', port }] });

describe('FlowSync', () => {
  it('rewrites the whole table once, then sends only what changed', async () => {
    const r = recorder();
    const sync = new FlowSync({ mgmtPath: '/nowhere', logger: pino({ level: 'silent' }), connect: r.connect });
    sync.set(flow(50, 'a'));
    sync.set(flow(50, 'b'));
    expect(await sync.flush()).toEqual({ added: 2, removed: 0, full: true });
    sync.set(flow(50, 'c'));
    sync.unset(flow(50, 'a'));
    sync.set(flow(50, 'b')); // wanted twice now: same flow, nothing to send
    expect(await sync.flush()).toEqual({ added: 1, removed: 1, full: false });
    sync.unset(flow(50, 'b')); // still wanted once
    expect(await sync.flush()).toEqual({ added: 0, removed: 0, full: false });
    sync.set(flow(50, 'c', 9)); // same key, other actions: replaced by an add
    expect(await sync.flush()).toEqual({ added: 1, removed: 0, full: false });
    expect(r.batches).toEqual([
      [['delete', 'all'], ['add', '50/a'], ['add', '50/b']],
      [['add', '50/c'], ['delete_strict', '50/a']],
      [['add', '50/c']],
    ]);
    expect(sync.size).toBe(2);
    sync.close();
  });

  it('rewrites every flow after vswitchd went away, by itself, once it was told what to hold', async () => {
    const r = recorder();
    const sync = new FlowSync({ mgmtPath: '/nowhere', logger: pino({ level: 'silent' }), connect: r.connect });
    sync.replaceAll([flow(50, 'a'), flow(50, 'b')]);
    await sync.flush();
    r.drop();
    const deadline = Date.now() + 5000;
    while (r.batches.length < 2 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
    expect(r.opened).toBe(2);
    expect(r.batches[1]).toEqual([['delete', 'all'], ['add', '50/a'], ['add', '50/b']]);
    sync.replaceAll([flow(50, 'b')]);
    expect(await sync.flush()).toEqual({ added: 0, removed: 1, full: false });
    sync.close();
  });

  it('keeps the flow of the caller that still wants a key when another, with other actions, lets it go', async () => {
    // What vswitchd is sent: per flow_mod, the command and the port the flow outputs to.
    const sent: Array<Array<[string, number | undefined]>> = [];
    const connect = async (): Promise<FlowConnection> => ({
      closed: new Promise<void>(() => undefined), close: () => undefined,
      apply: async (mods) => void sent.push(mods.filter((m) => m.flow.table !== 0xff).map((m) => [m.command, (m.flow.actions?.[0] as { port?: number } | undefined)?.port])),
    });
    const sync = new FlowSync({ mgmtPath: '/nowhere', logger: pino({ level: 'silent' }), connect });
    // Two sources name the same MAC behind different tunnels (ports 7 and 8): the later one is the flow.
    sync.set(flow(50, 'a', 7));
    sync.set(flow(50, 'a', 8));
    await sync.flush();
    // The later one goes: the earlier one's flow is the flow again.
    sync.unset(flow(50, 'a', 8));
    await sync.flush();
    // The earlier one goes while the later one is back: nothing changes on the bridge.
    sync.set(flow(50, 'a', 8));
    await sync.flush();
    sync.unset(flow(50, 'a', 7));
    await sync.flush();
    sync.unset(flow(50, 'a', 8));
    await sync.flush();
    expect(sent).toEqual([[['add', 8]], [['add', 7]], [['add', 8]], [['delete_strict', 8]]]);
    expect(sync.size).toBe(0);
  });
});
