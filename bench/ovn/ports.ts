// The ports of one run: names, addresses and vhost of each, round robin over the vhosts. Every name
// starts with the bench's prefix, so whatever a failed run leaves is found by it.

export interface BenchPort {
  readonly index: number;
  /** The logical switch port's name, also the OVS Interface's external_ids:iface-id. */
  readonly lsp: string;
  /** The VM's network namespace (the agent's VmSpec.name). */
  readonly vm: string;
  /** The VM's port on the vhost (its OVS port). */
  readonly port: string;
  readonly mac: string;
  readonly ip: string;
  readonly vhost: number;
}

export interface RunPlan {
  /** e.g. ours-r1, heater-r2, ours-size1000 */
  readonly label: string;
  readonly switchName: string;
  /** Every LSP of the run starts with this. */
  readonly lspPrefix: string;
  readonly ports: readonly BenchPort[];
  readonly prefixLength: number;
  readonly gateway: string;
}

const LETTER: Readonly<Record<string, string>> = { ours: 'o', heater: 'h', naive: 'n' };

/**
 * `serial` (0..255) tells runs apart in the MACs, so no cache of an earlier run's port (ARP, MAC
 * bindings) matches a new one. Addresses are in the VMs' own namespaces and OVN's logical network only.
 */
export function planRun(prefix: string, mode: string, label: string, serial: number, count: number, vhosts: number): RunPlan {
  const letter = LETTER[mode] ?? 'x';
  const lspPrefix = `${prefix}.${label}.`;
  const hex = (n: number): string => n.toString(16).padStart(2, '0');
  const ports = Array.from({ length: count }, (_, i): BenchPort => {
    const host = i + 10; // .0.1 is the gateway
    return {
      index: i,
      lsp: `${lspPrefix}${i}`,
      vm: `${prefix}-vm-${letter}${i}`,
      // <= 15 bytes: 6 (prefix) + 1 + 5 digits at most.
      port: `${prefix}${letter}${i}`,
      mac: `0a:58:${hex(serial & 255)}:${hex(letter.charCodeAt(0))}:${hex((i >> 8) & 255)}:${hex(i & 255)}`,
      ip: `10.88.${host >> 8}.${host & 255}`,
      vhost: i % vhosts,
    };
  });
  return { label, switchName: `${prefix}-ls-${label}`, lspPrefix, ports, prefixLength: 16, gateway: '10.88.0.1' };
}
