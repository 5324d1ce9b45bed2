// Public surface of the OpenFlow 1.3 codec and client. Knows flows, not VMs or neighbors.
export {
  NXAST_REG_MOVE, NX_VENDOR_ID, OFPAT, OFPBCT, OFPBF, OFPBFC, OFPET, OFPFC, OFPFF, OFPG_ANY, OFPHFC, OFPIT, OFPMT_OXM, OFPP, OFPT, OFPTT_ALL, OFPVID_PRESENT,
  OFPXMC, OFPXMT, OFP_DEFAULT_PRIORITY, OFP_NO_BUFFER, OFP_VERSION, ONFT, ONF_BUNDLE_ERROR_BASE, ONF_EXPERIMENTER_ID,
  errorNames, messageTypeName,
} from './constants.js';
export type {
  Action, BarrierMessage, BundleAddMessage, BundleControlMessage, BundleControlType, EchoMessage, ErrorDetails, ErrorMessage, Field, Flow, FlowMod, FlowModCommand, FlowModMessage, HelloMessage,
  LabeledFlowMod, Match, Message, OfHeader, ParsedMessage, RawMessage,
} from './messages.js';
export { describeFlow, formatMatch } from './match.js';
export { serialize, serializeBundleAdd, serializeBundleControl, serializeFlowMod } from './serializer.js';
export { OpenFlowParser, decodeFlowMod, parseMessage } from './parser.js';
export {
  type FlowFailure, OpenFlowBundleError, OpenFlowClosedError, OpenFlowConnectError, OpenFlowDecodeError, OpenFlowEncodeError, OpenFlowError, OpenFlowFlowError,
  OpenFlowTimeoutError, OpenFlowVersionError,
} from './errors.js';
export { type ApplyOptions, type ConnectOptions, OpenFlowConnection } from './connection.js';
