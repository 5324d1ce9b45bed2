// Paces the echoes of one agent, whatever the number of VMs pinging at once: each first echo to a
// target costs an ARP broadcast that every vhost of the VPC floods to every VM port, and a burst of
// them overruns a userspace datapath (the slow path handles each new flow). One pacer per agent.
export class Pacer {
  private nextAt = 0;

  /** `perSecond`: sends allowed per second, on average; bursts of `burst` are allowed. */
  constructor(private readonly perSecond: number, private readonly burst = 8) {}

  /** Resolves when the next send may go. */
  async next(): Promise<void> {
    const now = performance.now();
    const gap = 1000 / this.perSecond;
    // Allow a small burst: the schedule may lag behind now by up to `burst` sends.
    this.nextAt = Math.max(this.nextAt + gap, now - gap * this.burst);
    const wait = this.nextAt - now;
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
  }
}
