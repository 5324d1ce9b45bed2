// Named network namespaces (the /run/netns files `ip netns` manages).
import { readdir } from 'node:fs/promises';
import { NETNS_RUN_DIR, netnsCreate, netnsDelete } from '@merak/native';
import { InvalidArgumentError } from '@merak/common';

export function checkNamespaceName(field: string, name: string): void {
  if (name.length === 0 || name === '.' || name === '..' || name.includes('/') || Buffer.byteLength(name) > 255) {
    throw new InvalidArgumentError(field, `namespace name '${name}' is not a valid file name`);
  }
}

// Equivalent to: ip netns add NAME
export async function createNamespace(name: string): Promise<void> {
  checkNamespaceName('name', name);
  await netnsCreate(name);
}

/**
 * Equivalent to: ip netns delete NAME… (all in one native task; the kernel batches the teardown).
 * One entry per name: null when deleted, else the errno name ('ENOENT' when it did not exist).
 */
export async function deleteNamespaces(names: readonly string[]): Promise<Array<string | null>> {
  names.forEach((n, i) => checkNamespaceName(`names[${i}]`, n));
  if (names.length === 0) return [];
  return netnsDelete([...names]);
}

// Equivalent to: ip netns list   (names only, sorted; empty when /run/netns does not exist)
export async function listNamespaces(): Promise<string[]> {
  try {
    return (await readdir(NETNS_RUN_DIR)).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}
