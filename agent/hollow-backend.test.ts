import { describe, expect, it } from 'vitest';
import { createHollowBackend } from './hollow-backend.js';

describe('hollow backend: tunnels', () => {
  it('keeps the set it is given and counts what each call added and removed', async () => {
    const b = createHollowBackend();
    const t = (remoteIp: string, vni: number): { remoteIp: string; vni: number; remoteMac: string } => ({ remoteIp, vni, remoteMac: '' });
    expect(await b.setTunnels({ type: 'vxlan', flood: false, tunnels: [t('100.64.0.2', 7), t('100.64.0.1', 7), t('100.64.0.1', 8)] })).toEqual({ tunnels: 3, added: 3, removed: 0 });
    expect(await b.setTunnels({ type: 'vxlan', flood: false, tunnels: [t('100.64.0.1', 7), t('100.64.0.3', 7), t('100.64.0.1', 9)] })).toEqual({ tunnels: 3, added: 2, removed: 2 });
    expect(await b.setTunnels({ type: 'vxlan', flood: false, tunnels: [t('100.64.0.3', 7), t('100.64.0.1', 7), t('100.64.0.1', 9)] })).toEqual({ tunnels: 3, added: 0, removed: 0 });
    expect(await b.setTunnels({ type: 'vxlan', flood: false, tunnels: [] })).toEqual({ tunnels: 0, added: 0, removed: 3 });
  });
});
