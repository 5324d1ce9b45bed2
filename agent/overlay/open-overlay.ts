// Builds the vhost's data plane above OVSDB: the overlay (VLANs, tunnel ports) and, when the vhost
// has a tunnel endpoint, br-tun with its flows (FlowSync) computed by the tunnel program. What a
// restarted agent finds in OVSDB (the VLAN map, the coordinator's tunnels) is recovered here; no
// flow is sent until the first change (the bridge keeps what it holds through a restart).
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Vswitch } from '../vswitch/vswitch.js';
import { FlowSync } from './flow-sync.js';
import { Overlay } from './overlay.js';
import { PATCH, TUNNEL_BRIDGE } from './tunnel-flows.js';
import { TunnelProgram } from './tunnel-program.js';

export interface OpenOverlayOptions {
  readonly vhost: string;
  readonly logger: Logger;
  readonly datapathType: string;
  /** OVS's run directory (br-tun's management socket, vswitchd's control socket). */
  readonly ovsRundir: string;
  /** This vhost's tunnel endpoint; undefined = none. */
  readonly underlayIp: string | undefined;
  /** Whether the underlay bridge (br-phy) is in place (the userspace datapath routes tunnels only through it). */
  readonly hasUnderlay: boolean;
}

export interface OverlayStack {
  readonly overlay: Overlay;
  /** Undefined when the vhost has no tunnel endpoint. */
  readonly flows: FlowSync | undefined;
  readonly program: TunnelProgram | undefined;
  close(): void;
}

export async function openOverlay(vs: Vswitch, opts: OpenOverlayOptions): Promise<OverlayStack> {
  const { underlayIp, logger } = opts;
  const overlay = await Overlay.open(vs, {
    vhost: opts.vhost,
    logger,
    underlayIp,
    // OVS's userspace tunnels route only through an OVS bridge that holds the underlay address.
    tunnelsUnavailable: opts.datapathType === 'netdev' && !opts.hasUnderlay
      ? 'tunnels on the userspace datapath need an underlay: start the agent with --underlay-interface'
      : undefined,
    tunnelBridge: TUNNEL_BRIDGE,
  });
  if (underlayIp === undefined || !(opts.hasUnderlay || opts.datapathType === 'system')) {
    return { overlay, flows: undefined, program: undefined, close: () => undefined };
  }
  // br-tun: tunnel ports and the flows of the neighbor tables (docs/data-plane.md).
  await vs.ensureFlowBridge(TUNNEL_BRIDGE, opts.datapathType, PATCH);
  const late: { program?: TunnelProgram } = {};
  const flows = new FlowSync({
    mgmtPath: join(opts.ovsRundir, `${TUNNEL_BRIDGE}.mgmt`),
    logger,
    // A (re)connection: vswitchd may have restarted, forgetting flows and tunnel neighbors alike.
    onConnected: async () => {
      late.program?.forgetPeers();
      await late.program?.refresh();
    },
  });
  const program = new TunnelProgram({
    flows, logger, localIp: underlayIp, ovsRundir: opts.ovsRundir, patchPort: PATCH.onTun,
    acquireVlan: (vni) => overlay.acquireVlan(vni),
    ofports: (names) => vs.interfaceOfports(names),
  });
  late.program = program;
  overlay.attachProgram(program);
  const recovered = overlay.coordinatorTunnels();
  program.recover(recovered.tunnels.map((t) => ({ type: recovered.type, vni: t.vni, remoteIp: t.remoteIp })));
  return {
    overlay, flows, program,
    close() {
      flows.close();
      program.close();
    },
  };
}
