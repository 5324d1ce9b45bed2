// Unix sockets left behind by a killed process: removed, unless something still answers on them.
import { existsSync, rmSync } from 'node:fs';
import { connect } from 'node:net';

/** Removes a socket file nobody listens on; refuses (throws) one that still answers. */
export async function removeStaleSocket(path: string): Promise<void> {
  if (!existsSync(path)) return;
  const alive = await new Promise<boolean>((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (alive) throw new Error(`${path} is in use by a running process`);
  rmSync(path, { force: true });
}
