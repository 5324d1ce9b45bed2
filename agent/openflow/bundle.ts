// One batch of flow mods applied as an ONF bundle (EXT-230, OpenFlow 1.3), for
// OpenFlowConnection.apply(mods, { bundle: true }). It goes as ovs-ofctl --bundle does it:
//   OPEN, one BUNDLE_ADD per mod (the inner flow_mod has the add's xid), BARRIER -- written back to back;
//   on the barrier reply: COMMIT (ATOMIC | ORDERED) if the open and every add were accepted, else DISCARD.
// The barrier matters: OVS refuses a bad add on its own (OFPT_ERROR with that xid) and keeps the
// bundle open, so a commit sent blindly after it would commit the rest.
import { OFPBF } from './constants.js';
import { type FlowFailure, OpenFlowBundleError, OpenFlowError, OpenFlowFlowError, OpenFlowTimeoutError } from './errors.js';
import { describeFlow } from './match.js';
import type { LabeledFlowMod, ParsedMessage } from './messages.js';
import { serialize, serializeBundleAdd, serializeBundleControl, serializeFlowMod } from './serializer.js';

export const BUNDLE_FLAGS = OFPBF.ATOMIC | OFPBF.ORDERED;

/** What a bundle needs of its connection. */
export interface BundleLink {
  readonly path: string;
  nextXid(): number;
  /** Queues bytes after everything queued before (with backpressure). */
  send(buffers: readonly Buffer[]): void;
  /** Replies with these xids go to `txn.onMessage` until unrouted. */
  route(xids: readonly number[], txn: BundleTransaction): void;
  unroute(xids: readonly number[]): void;
  isOpen(): boolean;
}

type Phase = 'adding' | 'committing' | 'done';

/** A bundle's bytes, encoded before anything is sent. */
export interface EncodedBundle {
  readonly openXid: number;
  readonly barrierXid: number;
  /** add xid -> index of its mod */
  readonly byXid: Map<number, number>;
  readonly buffers: Buffer[];
}

// Mods encoded between two turns of the event loop: thousands of flow_mods are ~100 ms of CPU,
// seconds on a starved machine, and the agent's heartbeats must still go out meanwhile.
const ENCODE_SLICE = 256;

/** Encodes the whole bundle, yielding to the event loop now and then (throws OpenFlowEncodeError before anything is sent). */
export async function encodeBundle(link: Pick<BundleLink, 'nextXid'>, bundleId: number, mods: readonly LabeledFlowMod[]): Promise<EncodedBundle> {
  const openXid = link.nextXid();
  const buffers = [serializeBundleControl(bundleId, 'open_request', BUNDLE_FLAGS, openXid)];
  const byXid = new Map<number, number>();
  for (let i = 0; i < mods.length; i++) {
    if (i > 0 && i % ENCODE_SLICE === 0) await new Promise((r) => setImmediate(r));
    const mod = mods[i]!;
    const xid = link.nextXid();
    byXid.set(xid, i);
    const path = mod.label === undefined ? `mods[${i}]` : `mods[${i}](${mod.label})`;
    buffers.push(serializeBundleAdd(bundleId, BUNDLE_FLAGS, serializeFlowMod(mod, xid, path), path));
  }
  const barrierXid = link.nextXid();
  buffers.push(serialize({ type: 'barrier_request' }, barrierXid));
  return { openXid, barrierXid, byXid, buffers };
}

export class BundleTransaction {
  private phase: Phase = 'adding';
  private readonly failures: FlowFailure[] = [];
  private openError: { typeName: string; codeName: string } | undefined;
  private readonly byXid: Map<number, number>; // add xid -> index of its mod
  private readonly openXid: number;
  private readonly barrierXid: number;
  private commitXid = 0;
  private readonly buffers: Buffer[]; // handed to the connection's write queue as is
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly link: BundleLink,
    private readonly bundleId: number,
    private readonly mods: readonly LabeledFlowMod[],
    encoded: EncodedBundle,
    readonly callerStack: string | undefined,
    private readonly resolve: () => void,
    private readonly reject: (e: Error) => void,
  ) {
    this.openXid = encoded.openXid;
    this.barrierXid = encoded.barrierXid;
    this.byXid = encoded.byXid;
    this.buffers = encoded.buffers;
  }

  start(timeoutMs: number): void {
    this.link.route([this.openXid, ...this.byXid.keys(), this.barrierXid], this);
    if (timeoutMs > 0) {
      this.timer = setTimeout(() => {
        // What the switch did is unknown; a discard makes sure a late commit cannot follow.
        if (this.phase === 'adding' && this.link.isOpen()) this.discard();
        this.end(new OpenFlowTimeoutError(`${this.link.path}: bundle ${this.bundleId} of ${this.mods.length} flow mods`, timeoutMs, this.callerStack));
      }, timeoutMs);
    }
    this.link.send(this.buffers);
  }

  onMessage(m: ParsedMessage): void {
    const xid = m.header.xid;
    if (m.type === 'error') {
      const index = this.byXid.get(xid);
      // OVS names a refused inner flow_mod by its xid, at add time or (e.g. OFPFMFC_OVERLAP) at commit.
      if (index !== undefined) this.failures.push(this.failure(index, m));
      else if (xid === this.openXid) this.openError = m;
      else if (xid === this.commitXid) this.committed(m);
      else if (xid === this.barrierXid) this.end(new OpenFlowError(`${this.link.path}: the switch refused the barrier: ${m.typeName}/${m.codeName}`, { callerStack: this.callerStack }));
      return;
    }
    if (m.type === 'barrier_reply' && xid === this.barrierXid) this.added();
    else if (m.type === 'bundle_control' && m.controlType === 'commit_reply' && xid === this.commitXid) this.committed();
  }

  /** The connection is gone. */
  fail(e: Error): void {
    this.end(e);
  }

  private added(): void {
    if (this.phase !== 'adding') return;
    if (this.openError) {
      this.end(new OpenFlowBundleError(this.link.path, this.bundleId, 'open', this.openError, this.callerStack));
    } else if (this.failures.length) {
      this.discard();
      this.end(new OpenFlowFlowError(this.failures, this.mods.length, this.callerStack, this.bundleId));
    } else {
      this.phase = 'committing';
      this.commitXid = this.link.nextXid();
      this.link.route([this.commitXid], this);
      this.link.send([serializeBundleControl(this.bundleId, 'commit_request', BUNDLE_FLAGS, this.commitXid)]);
    }
  }

  /** The commit's reply, or its error; OVS drops the bundle either way. */
  private committed(error?: { typeName: string; codeName: string }): void {
    if (this.phase !== 'committing') return;
    if (!error) this.end();
    // The inner mod's own error came first (same connection, in order): name it when there is one.
    else if (this.failures.length) this.end(new OpenFlowFlowError(this.failures, this.mods.length, this.callerStack, this.bundleId));
    else this.end(new OpenFlowBundleError(this.link.path, this.bundleId, 'commit', error, this.callerStack));
  }

  /** Drops the bundle on the switch; its reply (or error) is nobody's business. */
  private discard(): void {
    this.link.send([serializeBundleControl(this.bundleId, 'discard_request', BUNDLE_FLAGS, this.link.nextXid())]);
  }

  private failure(index: number, m: Extract<ParsedMessage, { type: 'error' }>): FlowFailure {
    const mod = this.mods[index]!;
    return {
      xid: m.header.xid, flow: mod.label ?? describeFlow(mod.flow), label: mod.label, mod, errorType: m.errorType, errorCode: m.errorCode,
      typeName: m.typeName, codeName: m.codeName,
    };
  }

  private end(e?: Error): void {
    if (this.phase === 'done') return;
    this.phase = 'done';
    clearTimeout(this.timer);
    this.link.unroute([this.openXid, ...this.byXid.keys(), this.barrierXid, ...(this.commitXid ? [this.commitXid] : [])]);
    if (e) this.reject(e);
    else this.resolve();
  }
}
