// Public surface of the common package: what both programs need, with no native code and no
// privileges. The agent and the coordinator depend on it; it depends on neither.
export { type ErrorContext, InvalidArgumentError, MerakError, type MerakErrorCode, errorMessage } from './errors.js';
export { type BoundedOptions, forEachBounded, mapBounded } from './concurrency.js';
export { broadcastOf, formatIpv4, macBytes, networkOf, parseIpv4, parseMac, prefixMask } from './net/ipv4.js';
export { removeStaleSocket } from './net/unix-socket.js';
export { statusError, toServiceError } from './grpc/status.js';
export { hasToken, requireToken } from './grpc/auth.js';
export { REPLACED_TRAILER } from './grpc/trailers.js';
export {
  type ClientTls, type ServerTls, TlsFileError, channelCredentials, channelOptions, loadClientTls, loadServerTls, serverCredentials, tokenInClear,
} from './grpc/tls.js';
export { type ReadinessCheck, createHttpServer } from './http/server.js';
export { type AlcorCall, AlcorError, AlcorHttp, type AlcorHttpOptions, type AlcorRequest, type AlcorResponse } from './alcor-http/alcor-http.js';
export { type CreateOrAdopt, createOrAdopt } from './alcor-http/create-or-adopt.js';
export { DEFAULT_BASE_MS, DEFAULT_MAX_DELAY_MS, type RetryEvent, type RetryPolicy, backoffMs, lookFor } from './alcor-http/retry.js';
export {
  type ConnectOptions as OvsdbConnectOptions, type Json as OvsdbJson, type Operation as OvsdbOperation, type Row as OvsdbRow, OvsdbClient, OvsdbError,
  fromOvsMap, ovsMap, parseEndpoint, setMembers,
} from './ovsdb/ovsdb-client.js';
export { JsonStream } from './ovsdb/json-stream.js';
export { type ShutdownLogger, type SignalSource, type StopSignal, nextStopSignal, shutdownOnSignal } from './process/signals.js';
