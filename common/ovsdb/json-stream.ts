// Splits a byte stream of concatenated JSON values (OVSDB JSON-RPC has no length prefix) into
// whole values: scans only new bytes, tracking depth and string state, so it stays linear.
export class JsonStream {
  private buf: Buffer = Buffer.alloc(0);
  private scanned = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;
  private start = -1;

  /** Feeds a chunk; returns the complete top-level values it finished. */
  push(chunk: Buffer): unknown[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: unknown[] = [];
    let consumed = 0;
    for (let i = this.scanned; i < this.buf.length; i++) {
      const c = this.buf[i]!;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === 0x5c) this.escaped = true;
        else if (c === 0x22) this.inString = false;
        continue;
      }
      if (c === 0x22) this.inString = true;
      else if (c === 0x7b || c === 0x5b) {
        if (this.depth++ === 0) this.start = i;
      } else if (c === 0x7d || c === 0x5d) {
        if (--this.depth === 0) {
          out.push(JSON.parse(this.buf.toString('utf8', this.start, i + 1)));
          consumed = i + 1;
        } else if (this.depth < 0) throw new SyntaxError(`unbalanced JSON at byte ${i}`);
      }
    }
    this.buf = this.buf.subarray(consumed);
    this.scanned = this.buf.length;
    if (this.depth === 0) this.start = -1;
    else this.start -= consumed;
    return out;
  }
}
