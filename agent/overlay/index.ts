// The standalone data plane: the underlay (br-phy), per-VNI local VLANs, tunnel ports.
export { Overlay, type OverlayOptions, type OverlayStore, VlanExhaustedError } from './overlay.js';
export { MARK, type Tunnel, type TunnelPlan, type TunnelType, planTunnels, tunnelPort, tunnelPortName } from './tunnels.js';
export { UPLINK_BRIDGE, type Underlay, type UnderlayConfig, ensureUnderlay } from './underlay.js';
export { VLAN_MAX, VLAN_MIN, VlanMap } from './vlan-map.js';
export { type NeighborChange, type NeighborEntry, type NeighborKey, NeighborTable } from './neighbor-table.js';
export { FlowSync } from './flow-sync.js';
export { type NeighborOutcome, TunnelProgram } from './tunnel-program.js';
export { PATCH, TUNNEL_BRIDGE } from './tunnel-flows.js';
export { type OpenOverlayOptions, type OverlayStack, openOverlay } from './open-overlay.js';
export { type SourceTunnel, type TunnelChange } from './overlay-marks.js';
export { type PackedTunnels, allTunnels, tunnelCount } from './tunnels.js';
export { type TunnelConfig, type TunnelDelta, type TunnelOutcome, type TunnelSource, TunnelSetUnknownError, deltaMismatch, sourcesMark, sourcesOf } from './tunnels.js';
