import { describe, expect, it } from 'vitest';
import { createHollowBackend } from './hollow-backend.js';
import { TunnelSetUnknownError } from './overlay/index.js';

const t = (remoteIp: string, vni: number): { remoteIp: string; vni: number; remoteMac: string } => ({ remoteIp, vni, remoteMac: '' });
const k = (remoteIp: string, vni: number): { remoteIp: string; vni: number } => ({ remoteIp, vni });

describe('hollow backend: tunnels', () => {
  it('keeps the set it is given and counts what each call added and removed', async () => {
    const b = createHollowBackend();
    expect(await b.setTunnels({ type: 'vxlan', flood: false, tunnels: [t('100.64.0.2', 7), t('100.64.0.1', 7), t('100.64.0.1', 8)] })).toEqual({ tunnels: 3, added: 3, removed: 0 });
    expect(await b.setTunnels({ type: 'vxlan', flood: false, tunnels: [t('100.64.0.1', 7), t('100.64.0.3', 7), t('100.64.0.1', 9)] })).toEqual({ tunnels: 3, added: 2, removed: 2 });
    expect(await b.setTunnels({ type: 'vxlan', flood: false, tunnels: [t('100.64.0.3', 7), t('100.64.0.1', 7), t('100.64.0.1', 9)] })).toEqual({ tunnels: 3, added: 0, removed: 0 });
    expect(await b.setTunnels({ type: 'vxlan', flood: false, tunnels: [] })).toEqual({ tunnels: 0, added: 0, removed: 3 });
  });

  it('applies a delta to the VNIs it names (removals, then upserts), and refuses one that does not fit the set', async () => {
    const b = createHollowBackend();
    const delta = { type: 'vxlan' as const, flood: false, upsert: [t('100.64.0.9', 7)], remove: [] };
    await expect(b.updateTunnels(delta)).rejects.toThrow(TunnelSetUnknownError);
    await b.setTunnels({ type: 'vxlan', flood: false, tunnels: [t('100.64.0.2', 7), t('100.64.0.1', 7), t('100.64.0.1', 8)] });
    await expect(b.updateTunnels({ ...delta, type: 'geneve' })).rejects.toThrow(/the set is vxlan, the delta geneve/);
    await expect(b.updateTunnels({ ...delta, flood: true })).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
    expect(await b.updateTunnels({ ...delta, upsert: [t('100.64.0.9', 7), t('100.64.0.2', 7), t('100.64.0.5', 9)], remove: [k('100.64.0.1', 8), k('100.64.0.7', 7)] }))
      .toEqual({ tunnels: 4, added: 2, removed: 1 });
    expect(await b.updateTunnels({ ...delta, upsert: [t('100.64.0.1', 7)], remove: [k('100.64.0.1', 7), k('100.64.0.9', 7)] })).toEqual({ tunnels: 3, added: 0, removed: 1 });
    expect(new Map([...b.tunnelSet()].map(([vni, ips]) => [vni, [...ips]]))).toEqual(new Map([[7, [0x64400001, 0x64400002]], [9, [0x64400005]]]));
  });

  it('takes a set packed per VNI as it is (merged with the tunnels listed)', async () => {
    const b = createHollowBackend();
    const ips = Uint32Array.from([0x64400003, 0x64400005]);
    expect(await b.setTunnels({ type: 'vxlan', flood: false, tunnels: [t('100.64.0.1', 7)], groups: [{ vni: 7, ips, macs: undefined }, { vni: 8, ips, macs: undefined }] })).toEqual({ tunnels: 5, added: 5, removed: 0 });
    expect(new Map([...b.tunnelSet()].map(([vni, a]) => [vni, [...a]]))).toEqual(new Map([[7, [0x64400001, 0x64400003, 0x64400005]], [8, [0x64400003, 0x64400005]]]));
    expect(await b.updateTunnels({ type: 'vxlan', flood: false, upsert: [], remove: [k('100.64.0.5', 8)] })).toEqual({ tunnels: 4, added: 0, removed: 1 });
  });
});
