import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@merak/common';
import {
  TunnelNeighborFormatError,
  type UnixctlCaller,
  flushTunnelNeighbors,
  listTunnelNeighbors,
  parseTunnelNeighbors,
  setTunnelNeighbor,
} from './tunnel-neighbors.js';

// The `result` of tnl/neigh/show from ovs-vswitchd 3.1.0 (Debian's openvswitch-switch), captured after
// setting these five entries on two bridges (the first MAC was given in upper case).
const CAPTURED_3_1 =
  'IP                                            MAC                 Bridge\n' +
  '==========================================================================\n' +
  '10.0.0.1                                      02:00:00:00:00:0a   br-phy\n' +
  '198.51.100.3                                  aa:bb:cc:dd:ee:03   br-int\n' +
  '198.51.100.3                                  aa:bb:cc:dd:ee:ff   br-phy\n' +
  '2001:db8::5                                   aa:bb:cc:dd:ee:02   br-phy\n' +
  'fe80::1234:5678:9abc:def0                     02:00:00:00:00:01   br-phy\n';

// Captured from the same daemon with nothing set.
const EMPTY_3_1 =
  'IP                                            MAC                 Bridge\n' +
  '==========================================================================\n';

/** Records calls and answers each with a fixed text, as UnixctlClient would. */
function fakeCaller(answer: string): UnixctlCaller & { calls: Array<[string, readonly string[]]> } {
  const calls: Array<[string, readonly string[]]> = [];
  return {
    calls,
    call(method, params) {
      calls.push([method, params]);
      return Promise.resolve(answer);
    },
  };
}

describe('parseTunnelNeighbors', () => {
  it('reads captured OVS 3.1 output', () => {
    expect(parseTunnelNeighbors(CAPTURED_3_1)).toEqual([
      { ip: '10.0.0.1', mac: '02:00:00:00:00:0a', bridge: 'br-phy', stale: false },
      { ip: '198.51.100.3', mac: 'aa:bb:cc:dd:ee:03', bridge: 'br-int', stale: false },
      { ip: '198.51.100.3', mac: 'aa:bb:cc:dd:ee:ff', bridge: 'br-phy', stale: false },
      { ip: '2001:db8::5', mac: 'aa:bb:cc:dd:ee:02', bridge: 'br-phy', stale: false },
      { ip: 'fe80::1234:5678:9abc:def0', mac: '02:00:00:00:00:01', bridge: 'br-phy', stale: false },
    ]);
  });

  it('reads an empty table', () => {
    expect(parseTunnelNeighbors(EMPTY_3_1)).toEqual([]);
  });

  it('reads the STALE marker', () => {
    // Built from the format string in OVS 3.1's tnl_neigh_cache_show: an expired entry not yet purged
    // (the purge runs within a second, too soon to capture reliably).
    const line = `${'198.51.100.3'.padEnd(46)}aa:bb:cc:dd:ee:ff   br-phy STALE\n`;
    expect(parseTunnelNeighbors(EMPTY_3_1 + line)).toEqual([{ ip: '198.51.100.3', mac: 'aa:bb:cc:dd:ee:ff', bridge: 'br-phy', stale: true }]);
  });

  it('reads an address as wide as the column allows (one space left)', () => {
    const ip = 'ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255'; // INET6_ADDRSTRLEN - 1 characters
    const line = `${ip.padEnd(46)}aa:bb:cc:dd:ee:ff   br-phy\n`;
    expect(parseTunnelNeighbors(EMPTY_3_1 + line)[0]).toMatchObject({ ip, bridge: 'br-phy' });
  });

  it('throws TunnelNeighborFormatError naming the line it cannot read', () => {
    expect(() => parseTunnelNeighbors('OK\n')).toThrow(TunnelNeighborFormatError);
    const bad = `${'198.51.100.3'.padEnd(46)}not-a-mac           br-phy`;
    const e = ((): unknown => { try { return parseTunnelNeighbors(`${EMPTY_3_1}${bad}\n`); } catch (x) { return x; } })();
    expect(e).toBeInstanceOf(TunnelNeighborFormatError);
    expect(e).toMatchObject({ line: bad, code: 'OVSDB' });
  });
});

describe('tunnel neighbour helpers', () => {
  it('setTunnelNeighbor sends tnl/neigh/set with bridge, ip, mac', async () => {
    const c = fakeCaller('OK\n');
    await setTunnelNeighbor(c, 'br-phy', '198.51.100.3', 'aa:bb:cc:dd:ee:ff');
    await setTunnelNeighbor(c, 'br-phy', '2001:db8::5', 'AA:BB:CC:DD:EE:02');
    expect(c.calls).toEqual([
      ['tnl/neigh/set', ['br-phy', '198.51.100.3', 'aa:bb:cc:dd:ee:ff']],
      ['tnl/neigh/set', ['br-phy', '2001:db8::5', 'AA:BB:CC:DD:EE:02']],
    ]);
  });

  it('setTunnelNeighbor rejects what vswitchd would refuse or truncate, naming the field, before sending', async () => {
    const c = fakeCaller('OK\n');
    const cases: Array<[string, string, string, string]> = [
      ['bridge', '', '198.51.100.3', 'aa:bb:cc:dd:ee:ff'],
      ['bridge', 'br-phy-16-bytes!', '198.51.100.3', 'aa:bb:cc:dd:ee:ff'],
      ['ip', 'br-phy', '1.2.3', 'aa:bb:cc:dd:ee:ff'],
      ['ip', 'br-phy', 'host.example', 'aa:bb:cc:dd:ee:ff'],
      ['mac', 'br-phy', '198.51.100.3', 'aa-bb-cc-dd-ee-ff'],
      ['mac', 'br-phy', '198.51.100.3', 'aa:bb:cc:dd:ee'],
    ];
    for (const [field, bridge, ip, mac] of cases) {
      const e = await setTunnelNeighbor(c, bridge, ip, mac).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(InvalidArgumentError);
      expect(e).toMatchObject({ field });
    }
    expect(c.calls).toEqual([]);
    await setTunnelNeighbor(c, 'br-phy-15-bytes', '198.51.100.3', 'aa:bb:cc:dd:ee:ff');
    expect(c.calls).toHaveLength(1);
  });

  it('flushTunnelNeighbors sends tnl/neigh/flush without arguments', async () => {
    const c = fakeCaller('OK\n');
    await flushTunnelNeighbors(c);
    expect(c.calls).toEqual([['tnl/neigh/flush', []]]);
  });

  it('listTunnelNeighbors parses tnl/neigh/show', async () => {
    const c = fakeCaller(CAPTURED_3_1);
    expect(await listTunnelNeighbors(c)).toHaveLength(5);
    expect(c.calls).toEqual([['tnl/neigh/show', []]]);
  });
});
