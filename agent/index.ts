// Public surface of the agent package (for the coordinator, tests, benchmarks, hollow fleets).
export { AGENT_VERSION, type RunningAgent, startAgent } from './agent.js';
export type { Backend } from './backend.js';
export { type AgentConfig, parseAgentConfig } from './config.js';
export { type ErrorContext, InvalidArgumentError, MerakError, type MerakErrorCode, errorMessage } from './errors.js';
export { createHollowBackend } from './hollow-backend.js';
export { hasToken, requireToken } from './server/auth.js';
export { type ClientTls, type ServerTls, TlsFileError, channelCredentials, channelOptions, loadClientTls, loadServerTls, serverCredentials, tokenInClear } from './server/tls.js';
export { REPLACED_TRAILER, RegistrationReplacedError } from './registration/coordinator-link.js';
export { type ReadinessCheck, createHttpServer } from './server/http.js';
export { removeStaleSocket } from './server/unix-socket.js';
export { parseIpv4, formatIpv4, prefixMask, networkOf, broadcastOf, parseMac } from './vm/ipv4.js';
export { MARK as OVERLAY_MARKS, VLAN_MAX, VLAN_MIN, tunnelPortName } from './overlay/index.js';
export { Vswitch } from './vswitch/vswitch.js';
export { DEFAULT_OVN_BRIDGE, OVN_INSTALLED, OvnInstalledWatcher } from './ovn/installed-watcher.js';
export { OvnBridgeMissingError, OvnInstallTimeoutError, OvnNotConfiguredError } from './ovn/errors.js';
export { type AlcorCall, AlcorError, AlcorHttp, type AlcorHttpOptions, type AlcorRequest, type AlcorResponse, type RetryEvent, createOrAdopt } from './alcor/index.js';
export { type ConnectOptions as OvsdbConnectOptions, type Json as OvsdbJson, type Operation as OvsdbOperation, OvsdbClient, OvsdbError, fromOvsMap, ovsMap, parseEndpoint, setMembers } from './vswitch/ovsdb-client.js';
