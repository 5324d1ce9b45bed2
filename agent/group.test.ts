import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@merak/common';
import { parseGroupFile } from './group.js';

const dir = mkdtempSync(join(tmpdir(), 'merak-group-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function file(content: unknown): string {
  const path = join(dir, `group-${n++}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

const agent = (name: string, ...more: string[]): string[] => [
  '--insecure', '--vhost', name, '--netns', '/proc/self/ns/net', '--listen', `unix:/tmp/${name}.sock`, '--http', `unix:/tmp/${name}-http.sock`, '--ovsdb', `/tmp/${name}/db.sock`, ...more,
];

describe('an agent group file', () => {
  it('gives each agent its own configuration, in order', () => {
    const configs = parseGroupFile(file({ agents: [agent('a'), agent('b', '--capacity', '7')] }), {});
    expect(configs.map((c) => [c.vhost, c.capacity, c.netns])).toEqual([['a', 10000, '/proc/self/ns/net'], ['b', 7, '/proc/self/ns/net']]);
  });

  it('refuses, naming --group and the agent, before anything starts', () => {
    const refuse = (content: unknown, why: RegExp): void => {
      const path = file(content);
      expect(() => parseGroupFile(path, {})).toThrow(InvalidArgumentError);
      expect(() => parseGroupFile(path, {})).toThrow(why);
    };
    refuse('{not json', /--group: .*group-\d+\.json: /);
    refuse({ agents: [] }, /expected \{"agents": \[\[flags of one agent\], \.\.\.\]\} with at least one agent/);
    refuse({ agents: [['--vhost', 1]] }, /expected \{"agents"/);
    refuse({ agents: [agent('a'), agent('b', '--capacity', 'x')] }, /agents\[1\]: --capacity: 'x' is not an integer/);
    refuse({ agents: [agent('a'), agent('a')] }, /two agents have the same vhost 'a'/);
    refuse({ agents: [agent('a', '--hollow')] }, /agents\[0\]: .*hollow/);
  });
});
