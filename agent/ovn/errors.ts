// Why an OVN VM could not be made on this vhost: typed, so callers match the class, not the text.
import { MerakError } from '@merak/common';

/** This vhost's OVSDB names no OVN southbound (external_ids:ovn-remote): ovn-controller is not configured. */
export class OvnNotConfiguredError extends MerakError {
  constructor() {
    super('FAILED_PRECONDITION', "this vhost's OVSDB has no Open_vSwitch external_ids:ovn-remote: ovn-controller is not configured here (set ovn-remote, ovn-encap-type, ovn-encap-ip and start ovn-controller)");
  }
}

/** OVN's integration bridge does not exist: ovn-controller creates it when it runs. */
export class OvnBridgeMissingError extends MerakError {
  constructor(readonly bridge: string) {
    super('FAILED_PRECONDITION', `OVN's integration bridge ${bridge} does not exist on this vhost: is ovn-controller running? (it creates ${bridge}, named by Open_vSwitch external_ids:ovn-bridge)`, { context: { bridge } });
  }
}

/** ovn-controller did not mark the port ovn-installed in time. */
export class OvnInstallTimeoutError extends MerakError {
  constructor(readonly portName: string, readonly ifaceId: string, readonly timeoutMs: number) {
    super(
      'TIMEOUT',
      `ovn-controller did not mark port ${portName} (iface-id ${ifaceId}) ovn-installed within ${timeoutMs} ms: does logical switch port ${ifaceId} exist in the northbound database, and does ovn-controller run here with its chassis registered?`,
      { context: { portName, ifaceId, timeoutMs } },
    );
  }
}
