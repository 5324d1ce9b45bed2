// Names and external_ids of what the OVN provider makes in the northbound database. Every name
// carries a short form of the scenario's id, so two scenarios (or two coordinators' scenarios of
// the same name) never share a row, and every row carries external_ids merak-scenario=<id> plus
// what it stands for, so a coordinator that restarts finds what it made by looking it up.
import { derivedUuid } from '../scenario/index.js';

export const SCENARIO_KEY = 'merak-scenario';
export const KIND_KEY = 'merak-kind';

export type RowKind = 'switch' | 'vm-port' | 'router' | 'router-port' | 'router-switch-port' | 'port-group' | 'acl';

export interface OvnNames {
  readonly scenarioId: string;
  /** The scenario's tag inside names: `merak.<short>.` */
  readonly prefix: string;
  /** A VPC's switch (one switch per VPC) or a subnet's (subnets joined by a router). */
  switch(vpc: string, subnet?: string): string;
  /** A VM's logical switch port: also its OVS interface's external_ids:iface-id. */
  vmPort(vmId: string): string;
  router(router: string): string;
  routerPort(router: string, subnet: string): string;
  /** The switch's port of type router facing `routerPort`. */
  routerSwitchPort(router: string, subnet: string): string;
  /** A port group: letters, digits and _ only, starting with a letter (ACL matches name it as @name). */
  portGroup(sg: string): string;
  /** The VM id a VM port's name stands for, when it is one of this scenario's. */
  vmOfPort(lsp: string): string | undefined;
}

/** 8 hex digits of the scenario's id: unique enough among scenarios that share one OVN. */
export const shortId = (scenarioId: string): string => scenarioId.replace(/-/g, '').slice(0, 8).toLowerCase();

export function ovnNames(scenarioId: string): OvnNames {
  const short = shortId(scenarioId);
  const prefix = `merak.${short}.`;
  const vmPrefix = `${prefix}vm.`;
  return {
    scenarioId,
    prefix,
    // Scenario names are a-z 0-9 -, so '.' separates them unambiguously.
    switch: (vpc, subnet) => (subnet === undefined ? `${prefix}ls.${vpc}` : `${prefix}ls.${vpc}.${subnet}`),
    vmPort: (vm) => `${vmPrefix}${vm}`,
    router: (r) => `${prefix}lr.${r}`,
    routerPort: (r, s) => `${prefix}lrp.${r}.${s}`,
    routerSwitchPort: (r, s) => `${prefix}rsp.${r}.${s}`,
    portGroup: (sg) => `merak_${short}_${sg.replace(/-/g, '_')}`,
    vmOfPort: (lsp) => (lsp.startsWith(vmPrefix) ? lsp.slice(vmPrefix.length) : undefined),
  };
}

/** The short id of the scenario whose VM port `lsp` is, if it is one of ours at all. */
export function shortIdOfVmPort(lsp: string): string | undefined {
  const m = /^merak\.([0-9a-f]{8})\.vm\./.exec(lsp);
  return m ? m[1] : undefined;
}

/** A locally administered MAC from a name (router ports). */
export function derivedMac(name: string): string {
  const h = derivedUuid(`merak-ovn-mac/${name}`).replace(/-/g, '');
  return `02:${h.slice(0, 2)}:${h.slice(2, 4)}:${h.slice(4, 6)}:${h.slice(6, 8)}:${h.slice(8, 10)}`;
}
