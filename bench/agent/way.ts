// What every way of building VMs gives the benchmark: its timing, and the ports it made so they
// can be checked from outside before any figure is printed.

export interface WayRun {
  readonly createSec: number;
  /** The OVS port of each VM, in VM order. */
  readonly ports: readonly string[];
  /** Deletes every VM; resolves to the seconds it took. */
  remove(): Promise<number>;
  /** Releases what the way holds (the agent process); the vhost is stopped by the caller. */
  close(): Promise<void>;
}
