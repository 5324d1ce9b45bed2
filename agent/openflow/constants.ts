// OpenFlow 1.3 numbers (OpenFlow Switch Specification 1.3.5, openflow.h in its appendix A) and the
// Nicira extension numbers Open vSwitch uses (nicira-ext.h). Only what the codec speaks or names.

export const OFP_VERSION = 0x04;
export const OFP_HEADER_LEN = 8;
/** A message's length is a u16: no message can be longer. */
export const OFP_MAX_MESSAGE_LEN = 0xffff;

export const OFPT = {
  HELLO: 0,
  ERROR: 1,
  ECHO_REQUEST: 2,
  ECHO_REPLY: 3,
  EXPERIMENTER: 4,
  FEATURES_REQUEST: 5,
  FEATURES_REPLY: 6,
  GET_CONFIG_REQUEST: 7,
  GET_CONFIG_REPLY: 8,
  SET_CONFIG: 9,
  PACKET_IN: 10,
  FLOW_REMOVED: 11,
  PORT_STATUS: 12,
  PACKET_OUT: 13,
  FLOW_MOD: 14,
  GROUP_MOD: 15,
  PORT_MOD: 16,
  TABLE_MOD: 17,
  MULTIPART_REQUEST: 18,
  MULTIPART_REPLY: 19,
  BARRIER_REQUEST: 20,
  BARRIER_REPLY: 21,
} as const;

/** Hello element: the bitmap of versions a side speaks (bit n = wire version n). */
export const OFPHET_VERSIONBITMAP = 1;

/** flow_mod commands. */
export const OFPFC = {
  ADD: 0,
  MODIFY: 1,
  MODIFY_STRICT: 2,
  DELETE: 3,
  DELETE_STRICT: 4,
} as const;

/** flow_mod flags. */
export const OFPFF = {
  SEND_FLOW_REM: 1 << 0,
  CHECK_OVERLAP: 1 << 1,
  RESET_COUNTS: 1 << 2,
  NO_PKT_COUNTS: 1 << 3,
  NO_BYT_COUNTS: 1 << 4,
} as const;

/** Reserved port numbers. */
export const OFPP = {
  MAX: 0xffffff00,
  IN_PORT: 0xfffffff8,
  TABLE: 0xfffffff9,
  NORMAL: 0xfffffffa,
  FLOOD: 0xfffffffb,
  ALL: 0xfffffffc,
  CONTROLLER: 0xfffffffd,
  LOCAL: 0xfffffffe,
  ANY: 0xffffffff,
} as const;

export const OFPG_ANY = 0xffffffff;
/** "Every table", for deletes. */
export const OFPTT_ALL = 0xff;
export const OFP_NO_BUFFER = 0xffffffff;
/** The priority ovs-ofctl puts in a flow_mod that does not name one. */
export const OFP_DEFAULT_PRIORITY = 0x8000;

export const OFPIT = {
  GOTO_TABLE: 1,
  WRITE_METADATA: 2,
  WRITE_ACTIONS: 3,
  APPLY_ACTIONS: 4,
  CLEAR_ACTIONS: 5,
  METER: 6,
  EXPERIMENTER: 0xffff,
} as const;

export const OFPAT = {
  OUTPUT: 0,
  PUSH_VLAN: 17,
  POP_VLAN: 18,
  SET_FIELD: 25,
  EXPERIMENTER: 0xffff,
} as const;

/** ofp_match type: OXM TLVs. */
export const OFPMT_OXM = 1;

/** OXM classes: the two NXM classes (Open vSwitch's own fields) and OpenFlow basic. */
export const OFPXMC = {
  NXM_0: 0x0000,
  NXM_1: 0x0001,
  OPENFLOW_BASIC: 0x8000,
  EXPERIMENTER: 0xffff,
} as const;

/** OpenFlow-basic field numbers this codec uses. */
export const OFPXMT = {
  IN_PORT: 0,
  ETH_DST: 3,
  ETH_SRC: 4,
  ETH_TYPE: 5,
  VLAN_VID: 6,
  ARP_OP: 21,
  ARP_SPA: 22,
  ARP_TPA: 23,
  ARP_SHA: 24,
  ARP_THA: 25,
  TUNNEL_ID: 38,
} as const;

/** Set in an OXM VLAN_VID value when the frame has a VLAN tag. */
export const OFPVID_PRESENT = 0x1000;

/** Nicira's experimenter id, and the REG_MOVE action's subtype under it. */
export const NX_VENDOR_ID = 0x00002320;
export const NXAST_REG_MOVE = 6;

/**
 * Bundles in OpenFlow 1.3: the ONF extension EXT-230, OFPT_EXPERIMENTER messages under ONF's id.
 * Open vSwitch speaks it with 1.3 (OpenFlow 1.4 made it OFPT_BUNDLE_CONTROL/ADD_MESSAGE).
 */
export const ONF_EXPERIMENTER_ID = 0x4f4e4600;
export const ONFT = { BUNDLE_CONTROL: 2300, BUNDLE_ADD_MESSAGE: 2301 } as const;

/** Bundle control types: each request's reply is the request + 1. */
export const OFPBCT = {
  OPEN_REQUEST: 0,
  OPEN_REPLY: 1,
  CLOSE_REQUEST: 2,
  CLOSE_REPLY: 3,
  COMMIT_REQUEST: 4,
  COMMIT_REPLY: 5,
  DISCARD_REQUEST: 6,
  DISCARD_REPLY: 7,
} as const;

/** Bundle flags: all or nothing; in the order added. */
export const OFPBF = { ATOMIC: 1 << 0, ORDERED: 1 << 1 } as const;

export const OFPET = {
  HELLO_FAILED: 0,
  BAD_REQUEST: 1,
  BAD_ACTION: 2,
  BAD_INSTRUCTION: 3,
  BAD_MATCH: 4,
  FLOW_MOD_FAILED: 5,
  GROUP_MOD_FAILED: 6,
  PORT_MOD_FAILED: 7,
  TABLE_MOD_FAILED: 8,
  QUEUE_OP_FAILED: 9,
  SWITCH_CONFIG_FAILED: 10,
  ROLE_REQUEST_FAILED: 11,
  METER_MOD_FAILED: 12,
  TABLE_FEATURES_FAILED: 13,
  /** OpenFlow 1.4+; with 1.3 the same codes come as ONF experimenter errors (ONF_BUNDLE_ERROR_BASE + code). */
  BUNDLE_FAILED: 17,
  EXPERIMENTER: 0xffff,
} as const;

/** With 1.3, OVS sends a bundle error as OFPET_EXPERIMENTER, experimenter ONF, exp_type 2300 + OFPBFC code. */
export const ONF_BUNDLE_ERROR_BASE = 2300;

const BUNDLE_FAILED_NAMES = ['UNKNOWN', 'EPERM', 'BAD_ID', 'BUNDLE_EXIST', 'BUNDLE_CLOSED', 'OUT_OF_BUNDLES', 'BAD_TYPE', 'BAD_FLAGS',
  'MSG_BAD_LEN', 'MSG_BAD_XID', 'MSG_UNSUP', 'MSG_CONFLICT', 'MSG_TOO_MANY', 'MSG_FAILED', 'TIMEOUT', 'BUNDLE_IN_PROGRESS'] as const;

/** OFPBFC codes by name (OFPBFC.MSG_FAILED = 13). */
export const OFPBFC = Object.fromEntries(BUNDLE_FAILED_NAMES.map((n, i) => [n, i])) as Record<(typeof BUNDLE_FAILED_NAMES)[number], number>;

export const OFPHFC = { INCOMPATIBLE: 0, EPERM: 1 } as const;

// Error codes per type, in spec order: a code is its index in the list.
const CODES: Record<number, { prefix: string; names: readonly string[] }> = {
  [OFPET.HELLO_FAILED]: { prefix: 'OFPHFC', names: ['INCOMPATIBLE', 'EPERM'] },
  [OFPET.BAD_REQUEST]: {
    prefix: 'OFPBRC',
    names: ['BAD_VERSION', 'BAD_TYPE', 'BAD_MULTIPART', 'BAD_EXPERIMENTER', 'BAD_EXP_TYPE', 'EPERM', 'BAD_LEN', 'BUFFER_EMPTY',
      'BUFFER_UNKNOWN', 'BAD_TABLE_ID', 'IS_SLAVE', 'BAD_PORT', 'BAD_PACKET', 'MULTIPART_BUFFER_OVERFLOW'],
  },
  [OFPET.BAD_ACTION]: {
    prefix: 'OFPBAC',
    names: ['BAD_TYPE', 'BAD_LEN', 'BAD_EXPERIMENTER', 'BAD_EXP_TYPE', 'BAD_OUT_PORT', 'BAD_ARGUMENT', 'EPERM', 'TOO_MANY',
      'BAD_QUEUE', 'BAD_OUT_GROUP', 'MATCH_INCONSISTENT', 'UNSUPPORTED_ORDER', 'BAD_TAG', 'BAD_SET_TYPE', 'BAD_SET_LEN',
      'BAD_SET_ARGUMENT'],
  },
  [OFPET.BAD_INSTRUCTION]: {
    prefix: 'OFPBIC',
    names: ['UNKNOWN_INST', 'UNSUP_INST', 'BAD_TABLE_ID', 'UNSUP_METADATA', 'UNSUP_METADATA_MASK', 'BAD_EXPERIMENTER',
      'BAD_EXP_TYPE', 'BAD_LEN', 'EPERM'],
  },
  [OFPET.BAD_MATCH]: {
    prefix: 'OFPBMC',
    names: ['BAD_TYPE', 'BAD_LEN', 'BAD_TAG', 'BAD_DL_ADDR_MASK', 'BAD_NW_ADDR_MASK', 'BAD_WILDCARDS', 'BAD_FIELD',
      'BAD_VALUE', 'BAD_MASK', 'BAD_PREREQ', 'DUP_FIELD', 'EPERM'],
  },
  [OFPET.FLOW_MOD_FAILED]: {
    prefix: 'OFPFMFC',
    names: ['UNKNOWN', 'TABLE_FULL', 'BAD_TABLE_ID', 'OVERLAP', 'EPERM', 'BAD_TIMEOUT', 'BAD_COMMAND', 'BAD_FLAGS'],
  },
  [OFPET.GROUP_MOD_FAILED]: {
    prefix: 'OFPGMFC',
    names: ['GROUP_EXISTS', 'INVALID_GROUP', 'WEIGHT_UNSUPPORTED', 'OUT_OF_GROUPS', 'OUT_OF_BUCKETS', 'CHAINING_UNSUPPORTED',
      'WATCH_UNSUPPORTED', 'LOOP', 'UNKNOWN_GROUP', 'CHAINED_GROUP', 'BAD_TYPE', 'BAD_COMMAND', 'BAD_BUCKET', 'BAD_WATCH', 'EPERM'],
  },
  [OFPET.PORT_MOD_FAILED]: { prefix: 'OFPPMFC', names: ['BAD_PORT', 'BAD_HW_ADDR', 'BAD_CONFIG', 'BAD_ADVERTISE', 'EPERM'] },
  [OFPET.TABLE_MOD_FAILED]: { prefix: 'OFPTMFC', names: ['BAD_TABLE', 'BAD_CONFIG', 'EPERM'] },
  [OFPET.QUEUE_OP_FAILED]: { prefix: 'OFPQOFC', names: ['BAD_PORT', 'BAD_QUEUE', 'EPERM'] },
  [OFPET.SWITCH_CONFIG_FAILED]: { prefix: 'OFPSCFC', names: ['BAD_FLAGS', 'BAD_LEN', 'EPERM'] },
  [OFPET.ROLE_REQUEST_FAILED]: { prefix: 'OFPRRFC', names: ['STALE', 'UNSUP', 'BAD_ROLE'] },
  [OFPET.METER_MOD_FAILED]: {
    prefix: 'OFPMMFC',
    names: ['UNKNOWN', 'METER_EXISTS', 'INVALID_METER', 'UNKNOWN_METER', 'BAD_COMMAND', 'BAD_FLAGS', 'BAD_RATE', 'BAD_BURST',
      'BAD_BAND', 'BAD_BAND_VALUE', 'OUT_OF_METERS', 'OUT_OF_BANDS'],
  },
  [OFPET.TABLE_FEATURES_FAILED]: { prefix: 'OFPTFFC', names: ['BAD_TABLE', 'BAD_METADATA', 'BAD_TYPE', 'BAD_LEN', 'BAD_ARGUMENT', 'EPERM'] },
  [OFPET.BUNDLE_FAILED]: { prefix: 'OFPBFC', names: BUNDLE_FAILED_NAMES },
};

const TYPE_NAMES = new Map<number, string>(Object.entries(OFPET).map(([k, v]) => [v, `OFPET_${k}`]));

/**
 * Names of an error type and code: (2, 10) -> OFPET_BAD_ACTION / OFPBAC_MATCH_INCONSISTENT. An
 * experimenter error is named by its id and exp_type, except ONF's bundle errors (OpenFlow 1.3's
 * form of OFPET_BUNDLE_FAILED), named as that type and its OFPBFC code.
 */
export function errorNames(type: number, code: number, experimenter?: number): { typeName: string; codeName: string } {
  const typeName = TYPE_NAMES.get(type) ?? `OFPET_${type}`;
  if (type === OFPET.EXPERIMENTER && experimenter === ONF_EXPERIMENTER_ID) {
    const name = BUNDLE_FAILED_NAMES[code - ONF_BUNDLE_ERROR_BASE];
    if (name) return { typeName: 'OFPET_BUNDLE_FAILED', codeName: `OFPBFC_${name}` };
  }
  if (type === OFPET.EXPERIMENTER) {
    const id = experimenter === undefined ? '?' : `0x${experimenter.toString(16).padStart(8, '0')}`;
    return { typeName, codeName: `${id}/${code}` };
  }
  const codes = CODES[type];
  const name = codes?.names[code];
  return { typeName, codeName: codes && name ? `${codes.prefix}_${name}` : `code ${code}` };
}

const MESSAGE_NAMES = new Map<number, string>(Object.entries(OFPT).map(([k, v]) => [v, `OFPT_${k}`]));

/** 'OFPT_FLOW_MOD' for 14; the number otherwise. */
export function messageTypeName(type: number): string {
  return MESSAGE_NAMES.get(type) ?? `type ${type}`;
}
