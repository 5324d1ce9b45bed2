// The MAC manager (Alcor's REST API, docs/alcor.md): OUI aa:bb:cc plus 24 random bits from range0
// (aa:bb:cc:00:00:00–aa:bb:cc:ff:ff:ff), lower-case and colon-separated; a collision is retried.
// Client-supplied MACs must be unique too.

const OUI = 'aa:bb:cc';
/** `macmanager.retrylimit`: Alcor documents no value; 10 retries is plenty for 2^24 slots. */
const RETRY_LIMIT = 10;

const hex = (n: number): string => n.toString(16).padStart(2, '0');

export class MacAllocator {
  private readonly inUse = new Set<string>();
  private readonly random: () => number;

  constructor(random: () => number) {
    this.random = random;
  }

  /** A fresh random MAC, now taken; undefined after RETRY_LIMIT collisions in a row. */
  allocate(): string | undefined {
    for (let attempt = 0; attempt <= RETRY_LIMIT; attempt++) {
      const bits = this.random() & 0xffffff;
      const mac = `${OUI}:${hex(bits >>> 16)}:${hex((bits >>> 8) & 255)}:${hex(bits & 255)}`;
      if (!this.inUse.has(mac)) {
        this.inUse.add(mac);
        return mac;
      }
    }
    return undefined;
  }

  /** Takes a client-supplied MAC; false when it is already in use. */
  reserve(mac: string): boolean {
    const key = mac.toLowerCase();
    if (this.inUse.has(key)) return false;
    this.inUse.add(key);
    return true;
  }

  has(mac: string): boolean {
    return this.inUse.has(mac.toLowerCase());
  }

  release(mac: string): void {
    this.inUse.delete(mac.toLowerCase());
  }

  all(): string[] {
    return [...this.inUse].sort();
  }
}
