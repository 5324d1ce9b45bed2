// A requester that records instead of sending: the bytes a sequence of calls would write, with
// sequence numbers from `firstSeq`. Makes "what do we send for this VM" a golden test.
import { messageTypeName } from './constants.js';
import type { NetlinkMessage, Request } from './messages.js';
import { serializeFor } from './serializer.js';
import type { NetlinkRequester, RequestBuilder, RequestOptions } from './socket.js';

export interface RecordedRequest {
  readonly seq: number;
  readonly requestType: string;
  readonly expect: RequestOptions['expect'];
  readonly object: string | undefined;
  readonly bytes: Buffer;
}

export class NetlinkBatch implements NetlinkRequester {
  readonly recorded: RecordedRequest[] = [];
  private seq: number;

  constructor(
    firstSeq = 1,
    private readonly pid = 0,
  ) {
    this.seq = firstSeq;
  }

  /** Records the request; settles at once as if acknowledged (dumps and replies come back empty). */
  request(input: Request | RequestBuilder, options: RequestOptions): Promise<NetlinkMessage[]> {
    try {
      const seq = this.seq++;
      const bytes = typeof input === 'function' ? input(seq, this.pid) : serializeFor(input, options.expect, seq, this.pid);
      this.recorded.push({ seq, requestType: messageTypeName(bytes.readUInt16LE(4)), expect: options.expect, object: options.object, bytes });
      return Promise.resolve([]);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  /** Everything recorded, as one buffer (what a single write of the batch would send). */
  bytes(): Buffer {
    return Buffer.concat(this.recorded.map((r) => r.bytes));
  }
}
