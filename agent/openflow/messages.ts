// The messages as data: the flow model (match, actions, flow, flow mod) and each OpenFlow message
// this codec speaks. Types only; no VM or neighbor words.
import type { OpenFlowDecodeError } from './errors.js';

/** Fields a set_field or move action can name (OVS's names for them). */
export type Field =
  | 'eth_dst' | 'eth_src' | 'vlan_vid' | 'arp_op' | 'arp_spa' | 'arp_tpa' | 'arp_sha' | 'arp_tha' | 'tunnel_id' | 'tun_ipv4_dst';

/**
 * Exact-match fields (no masks). MACs as 'aa:bb:cc:dd:ee:ff', IPv4 as dotted quads. The OXM
 * prerequisites hold: any arp* field needs ethType 0x0806 (the encoder refuses it otherwise).
 */
export interface Match {
  readonly inPort?: number;
  readonly ethDst?: string;
  readonly ethSrc?: string;
  readonly ethType?: number;
  /** 0..4095: frames tagged with this VID (sent with OFPVID_PRESENT set). */
  readonly vlanVid?: number;
  readonly arpOp?: number;
  readonly arpSpa?: string;
  readonly arpTpa?: string;
  readonly tunnelId?: bigint;
}

export type Action =
  | { readonly type: 'output'; readonly port: number }
  | { readonly type: 'push_vlan'; readonly ethertype: number }
  | { readonly type: 'pop_vlan' }
  /**
   * MAC fields take a string, arp_spa/arp_tpa/tun_ipv4_dst a dotted quad, arp_op a number,
   * vlan_vid a VID 0..4095 (OFPVID_PRESENT is added on the wire), tunnel_id a bigint.
   */
  | { readonly type: 'set_field'; readonly field: Field; readonly value: string | number | bigint }
  /** Nicira REG_MOVE of the whole field (src and dst must be as wide). */
  | { readonly type: 'move'; readonly src: Field; readonly dst: Field };

export interface Flow {
  /** 0..254; OFPTT_ALL (255) only in a non-strict delete. */
  readonly table: number;
  readonly priority: number;
  readonly cookie: bigint;
  readonly match: Match;
  /** One APPLY_ACTIONS instruction; empty or absent (and no gotoTable) = drop. */
  readonly actions?: readonly Action[];
  readonly gotoTable?: number;
}

export type FlowModCommand = 'add' | 'modify' | 'modify_strict' | 'delete' | 'delete_strict';

/** A flow_mod. The optional fields default to what ovs-ofctl sends (0, or "any"/"no buffer"). */
export interface FlowMod {
  readonly command: FlowModCommand;
  readonly flow: Flow;
  /** Deletes and modifies (non-strict) touch only flows whose cookie matches under this mask. */
  readonly cookieMask?: bigint;
  readonly idleTimeout?: number;
  readonly hardTimeout?: number;
  /** OFPFF_* bits. */
  readonly flags?: number;
  /** Deletes: only flows that output to this port. Default OFPP_ANY. */
  readonly outPort?: number;
  /** Deletes: only flows that output to this group. Default OFPG_ANY. */
  readonly outGroup?: number;
  readonly bufferId?: number;
}

/** A flow mod in a batch, with a name for error messages. */
export type LabeledFlowMod = FlowMod & { readonly label?: string };

export interface OfHeader {
  readonly version: number;
  readonly type: number;
  readonly length: number;
  readonly xid: number;
}

export interface HelloMessage {
  readonly type: 'hello';
  /** Wire versions from the version bitmap; empty when the HELLO carries none. */
  readonly versions: readonly number[];
}

export interface ErrorMessage {
  readonly type: 'error';
  readonly errorType: number;
  /** The code, or the exp_type of an experimenter error. */
  readonly errorCode: number;
  /** Set for OFPET_EXPERIMENTER errors. */
  readonly experimenter?: number;
  /** By convention the start of the refused request. */
  readonly data: Buffer;
}

export interface EchoMessage {
  readonly type: 'echo_request' | 'echo_reply';
  readonly data: Buffer;
}

export interface BarrierMessage {
  readonly type: 'barrier_request' | 'barrier_reply';
}

export interface FlowModMessage {
  readonly type: 'flow_mod';
  readonly mod: FlowMod;
}

export type BundleControlType =
  | 'open_request' | 'open_reply' | 'close_request' | 'close_reply' | 'commit_request' | 'commit_reply' | 'discard_request' | 'discard_reply';

/** ONF bundle control (EXT-230 in OpenFlow 1.3). */
export interface BundleControlMessage {
  readonly type: 'bundle_control';
  readonly bundleId: number;
  readonly controlType: BundleControlType;
  /** OFPBF_* bits. */
  readonly flags: number;
  /** Bundle properties, raw; none by default. */
  readonly properties?: Buffer;
}

/**
 * ONF bundle add: a message (whole, with its header) for a bundle. The serializer gives the inner
 * message the outer xid, as ovs-ofctl does and as OVS requires (else OFPBFC_MSG_BAD_XID).
 */
export interface BundleAddMessage {
  readonly type: 'bundle_add';
  readonly bundleId: number;
  readonly flags: number;
  readonly message: Message;
}

/** Any other message: its type and body, untouched. */
export interface RawMessage {
  readonly type: 'raw';
  readonly msgType: number;
  readonly body: Buffer;
}

export type Message =
  | HelloMessage | ErrorMessage | EchoMessage | BarrierMessage | FlowModMessage | BundleControlMessage | BundleAddMessage | RawMessage;

/** What the parser adds to an ERROR: names, and the header of the request it refuses. */
export interface ErrorDetails {
  readonly typeName: string;
  readonly codeName: string;
  /** The refused request's header, read from the error's data; undefined if data is too short. */
  readonly failedRequest: OfHeader | undefined;
}

export type ParsedMessage =
  | (HelloMessage & { readonly header: OfHeader })
  | (ErrorMessage & ErrorDetails & { readonly header: OfHeader })
  | (EchoMessage & { readonly header: OfHeader })
  | (BarrierMessage & { readonly header: OfHeader })
  | (FlowModMessage & { readonly header: OfHeader })
  | (BundleControlMessage & { readonly header: OfHeader })
  /** The inner message parsed as any other (raw with decodeError if it does not decode). */
  | (Omit<BundleAddMessage, 'message'> & { readonly message: ParsedMessage; readonly header: OfHeader })
  /** Unknown types, and known ones whose body did not decode (`decodeError` then says why). */
  | (RawMessage & { readonly header: OfHeader; readonly decodeError?: OpenFlowDecodeError });
