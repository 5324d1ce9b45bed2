// The coordinator's OVN writer and its NB connection, which its package does not export: loaded
// from its build output beside this one, so the bench runs what `npx tsc -b` built.
import type * as DatabaseModule from '../../coordinator/ovn/database.js';
import type * as NamesModule from '../../coordinator/ovn/names.js';
import type * as WriterModule from '../../coordinator/ovn/writer.js';

export interface OvnModules {
  readonly writer: typeof WriterModule;
  readonly database: typeof DatabaseModule;
  readonly names: typeof NamesModule;
}

export async function loadOvnModules(): Promise<OvnModules> {
  const dist = (path: string): string => new URL(`../../../${path}`, import.meta.url).href;
  const [writer, database, names] = await Promise.all([
    import(dist('coordinator/dist/ovn/writer.js')) as Promise<typeof WriterModule>,
    import(dist('coordinator/dist/ovn/database.js')) as Promise<typeof DatabaseModule>,
    import(dist('coordinator/dist/ovn/names.js')) as Promise<typeof NamesModule>,
  ]);
  return { writer, database, names };
}
