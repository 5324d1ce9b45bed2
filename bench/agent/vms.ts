// The VMs every way builds: the same names, addresses and MACs, so each way does the same work.

export interface BenchVm {
  readonly id: string;
  /** The VM's network namespace. */
  readonly name: string;
  readonly ip: string;
  readonly mac: string;
  /** The OVS port name the shell ways use (the agent names its own ports). */
  readonly port: string;
}

export const PREFIX_LENGTH = 16;
export const GATEWAY = '10.200.0.1';

export function benchVms(prefix: string, n: number): BenchVm[] {
  return Array.from({ length: n }, (_, i) => {
    const host = i + 2; // 10.200.0.2 upwards in the /16
    return {
      id: `${prefix}-v${i}`,
      name: `${prefix}-v${i}`,
      ip: `10.200.${host >> 8}.${host & 255}`,
      mac: `02:00:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`,
      port: `${prefix.slice(-6)}p${i}`,
    };
  });
}
