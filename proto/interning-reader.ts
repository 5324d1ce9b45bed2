// Agents' messages decoded with their short strings interned. A million VM results carry tens of
// millions of short strings (step names, statuses, error codes, a VM's name equal to its id); the
// generated decoder makes each afresh (an array of char codes, then the string), which measured a
// sixth of the coordinator's allocations at 200,000 VMs, and so of its garbage collection. A
// string seen before is returned from a small direct-mapped table instead: found by a hash of its
// bytes and compared byte by byte, so nothing is allocated for it.
import { BinaryReader } from '@bufbuild/protobuf/wire';

/** Longer strings (and any not ASCII) are decoded as usual: they are rarely repeated. */
const MAX_INTERNED_BYTES = 40;
const SLOTS = 4096;

/** The table of strings seen: one string per slot, the latest to hash there. */
export class StringTable {
  readonly slots: Array<string | undefined> = new Array<string | undefined>(SLOTS).fill(undefined);
}

/** A BinaryReader whose string() looks in `table` first; the generated decode() accepts it. */
export class InterningReader extends BinaryReader {
  private readonly data: Uint8Array;

  constructor(buf: Uint8Array, private readonly table: StringTable) {
    super(buf);
    this.data = buf;
  }

  override string(strict?: boolean): string {
    const at = this.pos;
    const len = this.uint32();
    const start = this.pos;
    const end = start + len;
    if (len > MAX_INTERNED_BYTES || end > this.len) return this.decodeAfresh(at, strict);
    const b = this.data;
    // FNV-1a over the bytes; a byte past ASCII sends the string the usual way.
    let h = 0x811c9dc5;
    for (let i = start; i < end; i++) {
      const c = b[i]!;
      if (c > 0x7f) return this.decodeAfresh(at, strict);
      h = Math.imul(h ^ c, 0x01000193);
    }
    const slot = (h >>> 0) % SLOTS;
    const seen = this.table.slots[slot];
    if (seen !== undefined && seen.length === len) {
      let same = true;
      for (let i = 0; i < len; i++) {
        if (seen.charCodeAt(i) !== b[start + i]) {
          same = false;
          break;
        }
      }
      if (same) {
        this.pos = end;
        return seen;
      }
    }
    const s = this.decodeAfresh(at, strict);
    this.table.slots[slot] = s;
    return s;
  }

  /** The generated path, from the length prefix at `at` (its bounds checks and errors included). */
  private decodeAfresh(at: number, strict?: boolean): string {
    this.pos = at;
    return super.string(strict);
  }
}
