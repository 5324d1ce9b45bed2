// The security group rules API over real HTTP: single and bulk creates for groups that exist,
// get, list (filtered), delete, Alcor's answers for what it refuses, inline rules of a group
// create still ignored, and the rule cache following the groups (a group's delete takes its rules).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type AlcorServer, type SecurityGroup, type SecurityGroupRule, startAlcorServer } from './index.js';
import { type HttpAnswer, clientFor } from './test-http.js';

const P = 'p1';
let alcor: AlcorServer;
let api: ReturnType<typeof clientFor<'vpc' | 'subnet' | 'route' | 'port' | 'node' | 'sg'>>;

beforeAll(async () => {
  alcor = await startAlcorServer({ seed: 5 });
  api = clientFor(alcor.urls);
});
afterAll(async () => alcor?.close());
beforeEach(() => alcor.reset());

const RULES = `/project/${P}/security-group-rules`;
const rulesOf = (r: HttpAnswer): SecurityGroupRule[] => (r.json as { security_group_rules: SecurityGroupRule[] }).security_group_rules;
const ruleOf = (r: HttpAnswer): SecurityGroupRule => (r.json as { security_group_rule: SecurityGroupRule }).security_group_rule;

async function group(name: string, inline?: unknown[]): Promise<SecurityGroup> {
  const r = await api.post('sg', `/project/${P}/security-groups`, { security_group: { id: `sg-${name}`, name, tenant_id: 't1', ...(inline ? { security_group_rules: inline } : {}) } });
  expect(r.status).toBe(201);
  return (r.json as { security_group: SecurityGroup }).security_group;
}

const web = { id: 'r-80', security_group_id: 'sg-web', direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', port_range_min: 80, port_range_max: 80, remote_ip_prefix: '10.0.0.0/8', remote_group_id: null, tenant_id: 't1', project_id: 'ignored' };

describe('security group rules', () => {
  it('creates one rule and a bulk of them into existing groups; lists, gets and deletes them; the group lists them beside its two egress rules', async () => {
    // Rules sent with the group are ignored: it gets Alcor's two egress rules.
    const sg = await group('web', [{ direction: 'ingress', protocol: 'udp' }]);
    expect(sg.security_group_rules.map((r) => [r.direction, r.ethertype])).toEqual([['egress', 'IPv4'], ['egress', 'IPv6']]);

    const one = await api.post('sg', RULES, { security_group_rule: web });
    expect(one.status).toBe(201);
    // The request echoed, with the path's project; a rule's tenant is not defaulted.
    expect(ruleOf(one)).toEqual({ ...web, project_id: P, name: null, description: null });
    const bulk = await api.post('sg', `${RULES}/bulk`, { security_group_rules: [
      { id: 'r-22', security_group_id: 'sg-web', direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', port_range_min: 22, port_range_max: 22 },
      { security_group_id: 'sg-web', direction: 'egress', ethertype: 'IPv6', protocol: 'icmpv6' },
    ] });
    expect(bulk.status).toBe(201);
    const made = rulesOf(bulk);
    expect(made.map((r) => [r.protocol, r.port_range_min, r.tenant_id])).toEqual([['tcp', 22, null], ['icmpv6', null, null]]);
    expect(made[1]!.id).toMatch(/^[0-9a-f-]{36}$/); // no id: Alcor makes one

    expect(ruleOf(await api.get('sg', `${RULES}/r-80`))).toMatchObject({ id: 'r-80', port_range_max: 80, remote_ip_prefix: '10.0.0.0/8' });
    const mine = rulesOf(await api.get('sg', `${RULES}?security_group_id=sg-web`));
    expect(mine.map((r) => [r.direction, r.ethertype, r.protocol])).toEqual([
      ['egress', 'IPv4', null], ['egress', 'IPv6', null], ['ingress', 'IPv4', 'tcp'], ['ingress', 'IPv4', 'tcp'], ['egress', 'IPv6', 'icmpv6'],
    ]);
    // Every group's rules, the tenant's default group (two ingress rules) too.
    expect(rulesOf(await api.get('sg', RULES))).toHaveLength(7);
    const listed = (await api.get('sg', `/project/${P}/security-groups/sg-web`)).json as { security_group: SecurityGroup };
    expect(listed.security_group.security_group_rules.map((r) => r.id)).toEqual(mine.map((r) => r.id));

    const del = await api.del('sg', `${RULES}/r-80`);
    expect([del.status, del.text]).toEqual([200, '']);
    expect((await api.get('sg', `${RULES}/r-80`)).status).toBe(412);
    expect((await api.del('sg', `${RULES}/r-80`)).status).toBe(412);
    expect(alcor.state().securityGroups.find((g) => g.id === 'sg-web')!.security_group_rules.map((r) => r.id)).not.toContain('r-80');

    // A group's delete takes its rules out of the rules API.
    expect((await api.del('sg', `/project/${P}/security-groups/sg-web`)).status).toBe(200);
    expect(rulesOf(await api.get('sg', `${RULES}?security_group_id=sg-web`))).toEqual([]);
    expect(alcor.state().securityGroupRules.map((r) => r.direction)).toEqual(['ingress', 'ingress']); // the default group's
  });

  it("answers what Alcor refuses with its statuses, and a bulk with one bad group makes none", async () => {
    await group('web');
    const post = (rule: Record<string, unknown>): Promise<HttpAnswer> => api.post('sg', RULES, { security_group_rule: { ...web, ...rule } });
    expect((await api.post('sg', RULES, { other: 1 })).status).toBe(412); // no security_group_rule
    expect((await post({ security_group_id: 'nope' })).status).toBe(412); // unknown group
    expect((await post({ direction: null })).status).toBe(412);
    expect((await post({ port_range_min: 90, port_range_max: 80 })).status).toBe(412);
    expect((await post({ protocol: null })).status).toBe(412); // ports without a protocol
    expect((await post({ remote_ip_prefix: 'fd00::/64' })).status).toBe(409); // IPv6 prefix on an IPv4 rule
    expect((await post({ remote_group_id: 'nope', remote_ip_prefix: null })).status).toBe(412);
    const bulk = await api.post('sg', `${RULES}/bulk`, { security_group_rules: [web, { ...web, id: 'r-x', security_group_id: 'nope' }] });
    expect(bulk.status).toBe(412);
    expect((await api.post('sg', `${RULES}/bulk`, { security_group_rules: [] })).status).toBe(412);
    expect(rulesOf(await api.get('sg', `${RULES}?security_group_id=sg-web`))).toHaveLength(2);
  });

  it('appends a rule created twice with one id to its group twice, as Alcor does (why clients look before they create)', async () => {
    await group('web');
    expect((await api.post('sg', RULES, { security_group_rule: web })).status).toBe(201);
    expect((await api.post('sg', RULES, { security_group_rule: web })).status).toBe(201);
    expect(alcor.state().securityGroups.find((g) => g.id === 'sg-web')!.security_group_rules.filter((r) => r.id === 'r-80')).toHaveLength(2);
    expect(rulesOf(await api.get('sg', `${RULES}?id=r-80`))).toHaveLength(1);
  });
});

describe('fault limit first-per-endpoint', () => {
  it('fails the first call of each endpoint once, whatever the ids in its path', async () => {
    alcor.faults.add({ service: 'sg', action: { kind: 'status', status: 500 }, limit: { kind: 'first-per-endpoint', n: 1 } });
    await api.post('sg', `/project/${P}/security-groups`, { security_group: { id: 'a', name: 'a' } }).then((r) => expect(r.status).toBe(500));
    await api.post('sg', `/project/${P}/security-groups`, { security_group: { id: 'a', name: 'a' } }).then((r) => expect(r.status).toBe(201));
    await api.get('sg', `/project/${P}/security-groups/a`).then((r) => expect(r.status).toBe(500));
    await api.get('sg', `/project/${P}/security-groups/b`).then((r) => expect(r.status).toBe(412)); // same endpoint, another id: not again
    await api.post('vpc', `/project/${P}/vpcs`, { network: {} }).then((r) => expect(r.status).toBe(201)); // another service
    expect(alcor.faults.list()[0]).toMatchObject({ matched: 4, fired: 2 });
  });
});
