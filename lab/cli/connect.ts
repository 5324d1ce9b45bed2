// Where the CLI finds the coordinator: --coordinator and --token-file (or MERAK_TOKEN), --tls-ca
// (or MERAK_TLS_CA) for a coordinator serving TLS, else the local emulation's (`merak local up`
// records its coordinator socket and token in its folder).
import { existsSync, readFileSync } from 'node:fs';
import { MerakError, loadClientTls } from '@merak/common';
import { join } from 'node:path';
import { CoordinatorClient } from '../coordinator-client/coordinator-client.js';

/** The local emulation's folder: $MERAK_LOCAL_DIR, else /run/merak/local (gone at reboot, like namespaces). */
export function localDir(flag?: string): string {
  return flag ?? process.env.MERAK_LOCAL_DIR ?? '/run/merak/local';
}

/** What `merak local up` writes for other commands to find its coordinator. */
export interface LocalEndpoint {
  readonly coordinator: string;
  readonly tokenFile: string;
}

export function readLocalEndpoint(dir: string): LocalEndpoint | undefined {
  const file = join(dir, 'endpoint.json');
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as LocalEndpoint;
}

export class ConnectError extends MerakError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
  }
}

export interface ConnectFlags {
  coordinator?: string | undefined;
  tokenFile?: string | undefined;
  localDir?: string | undefined;
  /** The CA that signed the coordinator's certificate (or env MERAK_TLS_CA); none: plaintext. */
  tlsCa?: string | undefined;
  /** The name the coordinator's certificate holds, when not --coordinator's host (or env MERAK_TLS_SERVER_NAME). */
  tlsServerName?: string | undefined;
}

export function connect(flags: ConnectFlags): CoordinatorClient {
  let address = flags.coordinator;
  let tokenFile = flags.tokenFile;
  if (!address) {
    const local = readLocalEndpoint(localDir(flags.localDir));
    if (!local) throw new ConnectError(`no --coordinator given and no local emulation is up (${localDir(flags.localDir)}): start one with 'merak local up', or say where the coordinator is`);
    address = local.coordinator;
    tokenFile ??= local.tokenFile;
  }
  const token = tokenFile ? readFileSync(tokenFile, 'utf8').trim() : process.env.MERAK_TOKEN?.trim();
  // Only for a coordinator named here: the local emulation's is on a unix socket, without TLS.
  const tls = flags.coordinator ? loadClientTls(flags.tlsCa ?? (process.env.MERAK_TLS_CA || undefined), flags.tlsServerName ?? (process.env.MERAK_TLS_SERVER_NAME || undefined)) : undefined;
  return new CoordinatorClient(address, token || undefined, undefined, tls);
}
