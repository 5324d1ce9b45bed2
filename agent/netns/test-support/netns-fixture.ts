// Shared by the privileged netns tests: uniquely named namespaces and links, removed after each
// test whatever happened, and `ip -j` as the independent witness.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { NETNS_RUN_DIR } from '@merak/native';
import { deleteNamespaces } from '../namespace.js';
import { NetnsHandle, type NetnsCreateOptions } from '../netns-handle.js';

export const NAME_PREFIX = 'mtest-nl-';

export function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new Error('needs root: these tests create network namespaces and links (run as root)');
}

/** JSON from `ip -n NS -j ARGS…`, parsed. */
export function ipJson<T = Array<Record<string, unknown>>>(ns: string, ...args: string[]): T {
  return JSON.parse(execFileSync('ip', ['-n', ns, '-j', ...args], { encoding: 'utf8' }) || '[]') as T;
}

export class NetnsFixture {
  private readonly hex = randomBytes(4).toString('hex');
  private readonly namespaces: string[] = [];
  private readonly handles: NetnsHandle[] = [];
  private readonly fds: number[] = [];

  /** A link name: the prefix, 3 hex digits of this fixture, and a tag of at most 3 characters (15 bytes in all). */
  link(tag: string): string {
    if (tag.length > 3) throw new Error(`link tag '${tag}' is longer than 3 characters`);
    return `${NAME_PREFIX}${this.hex.slice(0, 3)}${tag}`;
  }

  /** A namespace name, registered for deletion. */
  namespace(tag: string): string {
    const name = `${NAME_PREFIX}${this.hex}-${tag}`;
    this.namespaces.push(name);
    return name;
  }

  /** A fresh namespace and a handle on it. */
  async create(tag: string, options: NetnsCreateOptions = {}): Promise<{ name: string; handle: NetnsHandle }> {
    const name = this.namespace(tag);
    const handle = await NetnsHandle.create(name, options);
    this.handles.push(handle);
    return { name, handle };
  }

  /** An fd on the namespace file, closed at cleanup (what IFLA_NET_NS_FD wants). */
  fd(name: string): number {
    const fd = openSync(`${NETNS_RUN_DIR}/${name}`, 'r');
    this.fds.push(fd);
    return fd;
  }

  track(handle: NetnsHandle): NetnsHandle {
    this.handles.push(handle);
    return handle;
  }

  /** This fixture's namespaces still present (the leak check; other test files use other hex). */
  leftovers(): string[] {
    const out = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    return out.split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n.startsWith(`${NAME_PREFIX}${this.hex}`));
  }

  async cleanup(): Promise<void> {
    for (const h of this.handles.splice(0)) h.close();
    for (const fd of this.fds.splice(0)) closeSync(fd);
    const names = this.namespaces.splice(0);
    const results = await deleteNamespaces(names);
    const failed = results.map((r, i) => [names[i], r]).filter(([, r]) => r !== null && r !== 'ENOENT');
    if (failed.length > 0) throw new Error(`cleanup: could not delete ${JSON.stringify(failed)}`);
  }
}


/** Polls `check` until it returns true or `ms` pass. */
export async function eventually(check: () => boolean, ms = 3000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}
