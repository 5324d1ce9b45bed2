// TLS for Merak's gRPC, one scheme for every process:
// - a server (the coordinator, an agent's own listener) serves TLS with --tls-cert and --tls-key;
// - a client (an agent dialing the coordinator, the CLI, AgentClient) verifies the server's
//   certificate against --tls-ca, expecting the dialed host's name (or --tls-server-name) in it.
// Clients authenticate with the bearer token, which TLS keeps off the wire in clear.
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { type ChannelCredentials, type ChannelOptions, ServerCredentials, credentials } from '@grpc/grpc-js';
import { InvalidArgumentError, errorMessage } from '../errors.js';

/** A TLS flag whose file is missing, unreadable or not what it should be. */
export class TlsFileError extends InvalidArgumentError {
  constructor(flag: string, readonly path: string | undefined, message: string) {
    super(flag, path === undefined ? message : `${path}: ${message}`);
  }
}

/** What a server presents. */
export interface ServerTls {
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** What a client trusts. `serverName`: the name expected in the server's certificate, when it is not the dialed host. */
export interface ClientTls {
  readonly ca: Buffer;
  readonly serverName: string | undefined;
}

// The base manifests' Secret ships this instead of real PEM files (deploy/base/kustomization.yaml).
const PLACEHOLDER = 'REPLACE-ME';

function readPem(flag: string, path: string, kind: 'CERTIFICATE' | 'PRIVATE KEY'): Buffer {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (e) {
    throw new TlsFileError(flag, path, `cannot be read (${errorMessage(e)})`);
  }
  const text = data.toString('latin1');
  if (text.startsWith(PLACEHOLDER)) throw new TlsFileError(flag, path, `is the manifests' placeholder: make the certificates (docs/security.md)`);
  const header = kind === 'CERTIFICATE' ? /-----BEGIN CERTIFICATE-----/ : /-----BEGIN [A-Z ]*PRIVATE KEY-----/;
  if (!header.test(text)) throw new TlsFileError(flag, path, `is not a PEM ${kind === 'CERTIFICATE' ? 'certificate' : 'private key'}`);
  return data;
}

/** --tls-cert and --tls-key: both or neither; the key must be the certificate's. */
export function loadServerTls(certFile: string | undefined, keyFile: string | undefined): ServerTls | undefined {
  if (certFile === undefined && keyFile === undefined) return undefined;
  if (certFile === undefined) throw new TlsFileError('--tls-key', undefined, 'needs --tls-cert too (the certificate it is the key of)');
  if (keyFile === undefined) throw new TlsFileError('--tls-cert', undefined, 'needs --tls-key too (its private key)');
  const cert = readPem('--tls-cert', certFile, 'CERTIFICATE');
  const key = readPem('--tls-key', keyFile, 'PRIVATE KEY');
  try {
    // Checked now, not at the first handshake: a wrong pair would otherwise fail every connection.
    createSecureContext({ cert, key });
  } catch (e) {
    throw new TlsFileError('--tls-key', keyFile, `does not go with ${certFile} (${errorMessage(e)})`);
  }
  return { cert, key };
}

/** --tls-ca (and --tls-server-name, which only means something with it). */
export function loadClientTls(caFile: string | undefined, serverName: string | undefined): ClientTls | undefined {
  if (caFile === undefined) {
    if (serverName !== undefined) throw new TlsFileError('--tls-server-name', undefined, 'needs --tls-ca (the name is checked in the certificate TLS verifies)');
    return undefined;
  }
  if (serverName !== undefined && !/^[A-Za-z0-9*][A-Za-z0-9.*-]{0,252}$/.test(serverName)) {
    throw new TlsFileError('--tls-server-name', undefined, `'${serverName}' is not a host name`);
  }
  const ca = readPem('--tls-ca', caFile, 'CERTIFICATE');
  try {
    createSecureContext({ ca });
  } catch (e) {
    throw new TlsFileError('--tls-ca', caFile, `holds no usable certificate (${errorMessage(e)})`);
  }
  return { ca, serverName };
}

export function serverCredentials(tls: ServerTls | undefined): ServerCredentials {
  return tls ? ServerCredentials.createSsl(null, [{ cert_chain: tls.cert, private_key: tls.key }], false) : ServerCredentials.createInsecure();
}

export function channelCredentials(tls: ClientTls | undefined): ChannelCredentials {
  return tls ? credentials.createSsl(tls.ca) : credentials.createInsecure();
}

/** Channel options for `tls`: with a server name, the certificate is checked for it (and it is the :authority). */
export function channelOptions(tls: ClientTls | undefined): ChannelOptions {
  return tls?.serverName ? { 'grpc.ssl_target_name_override': tls.serverName, 'grpc.default_authority': tls.serverName } : {};
}

/** True when a bearer token sent to (or accepted on) `address` without TLS would cross a network in clear. */
export function tokenInClear(address: string, tls: boolean): boolean {
  if (tls || address.startsWith('unix:')) return false;
  const host = address.slice(0, address.lastIndexOf(':')).replace(/^\[|\]$/g, '');
  return !(host === 'localhost' || host === '::1' || /^127\./.test(host));
}
