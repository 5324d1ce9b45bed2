// One IPM address range per subnet (Alcor's REST API, docs/alcor.md): [network+1, broadcast-1], the
// lowest free address first (`BitSet.nextClearBit(0)` in IPM/allocator/Ipv4AddrAllocator.java),
// so a released address is the next one handed out again.
import { formatIpv4, parseIpv4 } from '@merak/common';

export class Ipv4Range {
  readonly id: string;
  readonly subnetId: string;
  readonly vpcId: string;
  readonly first: number;
  readonly last: number;
  private readonly used: Uint8Array;
  /** No free address below this index: keeps "lowest free" O(1) amortised for a /16. */
  private lowestFree = 0;
  private count = 0;

  constructor(id: string, subnetId: string, vpcId: string, first: number, last: number) {
    this.id = id;
    this.subnetId = subnetId;
    this.vpcId = vpcId;
    this.first = first;
    this.last = last;
    this.used = new Uint8Array(last - first + 1);
  }

  get firstIp(): string { return formatIpv4(this.first); }
  get lastIp(): string { return formatIpv4(this.last); }
  get usedCount(): number { return this.count; }
  get hasFree(): boolean { return this.count < this.used.length; }

  contains(ip: string): boolean {
    const n = parseIpv4(ip);
    return n !== undefined && n >= this.first && n <= this.last;
  }

  /** The lowest free address, now taken; undefined when the range is exhausted. */
  allocateLowest(): string | undefined {
    for (let i = this.lowestFree; i < this.used.length; i++) {
      if (this.used[i] === 0) {
        this.used[i] = 1;
        this.count++;
        this.lowestFree = i + 1;
        return formatIpv4(this.first + i);
      }
    }
    this.lowestFree = this.used.length;
    return undefined;
  }

  /**
   * Takes exactly `ip`; false when it is outside the range. There is no
   * duplicate check: an address already handed out is handed out again, as IPM's
   * `IpAddrRange.allocate` never detects the conflict.
   */
  allocate(ip: string): boolean {
    const n = parseIpv4(ip);
    if (n === undefined || n < this.first || n > this.last) return false;
    const i = n - this.first;
    if (this.used[i] === 0) {
      this.used[i] = 1;
      this.count++;
    }
    return true;
  }

  isAllocated(ip: string): boolean {
    const n = parseIpv4(ip);
    return n !== undefined && n >= this.first && n <= this.last && this.used[n - this.first] === 1;
  }

  release(ip: string): void {
    const n = parseIpv4(ip);
    if (n === undefined || n < this.first || n > this.last) return;
    const i = n - this.first;
    if (this.used[i] === 1) {
      this.used[i] = 0;
      this.count--;
      if (i < this.lowestFree) this.lowestFree = i;
    }
  }

  /** Allocated addresses, ascending. */
  allocated(): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.used.length; i++) if (this.used[i] === 1) out.push(formatIpv4(this.first + i));
    return out;
  }
}
