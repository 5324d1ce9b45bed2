// Standalone VNIs (the standalone control plane's prepareScenario): a VPC that names its VNI keeps it (and must not collide with a live
// scenario's); the others get the lowest free ones from 1001, so two scenarios never share a
// segment by accident.
import { type Scenario, ScenarioValidationError } from '../scenario/index.js';

const FIRST_VNI = 1001;

/** `s` with every VPC's VNI set, given the scenarios that are live (their VMs may exist). */
export function assignVnis(s: Scenario, live: readonly Scenario[]): Scenario {
  const used = new Map<number, string>();
  for (const other of live) for (const v of other.vpcs) used.set(v.vni, other.name);
  const issues: { path: string; message: string }[] = [];
  s.vpcs.forEach((v, i) => {
    if (v.vniAuto) return;
    const owner = used.get(v.vni);
    if (owner !== undefined) issues.push({ path: `vpcs[${i}].vni`, message: `${v.vni} is used by live scenario '${owner}'` });
  });
  if (issues.length > 0) throw new ScenarioValidationError(issues);
  const mine = new Set(s.vpcs.filter((v) => !v.vniAuto).map((v) => v.vni));
  let next = FIRST_VNI;
  const vpcs = s.vpcs.map((v) => {
    if (!v.vniAuto) return v;
    while (used.has(next) || mine.has(next)) next++;
    return { ...v, vni: next++ };
  });
  return { ...s, vpcs };
}
