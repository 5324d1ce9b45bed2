// Failure injection: a scenario's faults, injected while its VMs are created, and what each did.
export { type AgentEvents, type ControlPlaneFaultSink, FaultInjector, type FaultInjectorDeps, type FaultPort, type FaultRunInfo } from './fault-injector.js';
export { type FaultRecord, type PlanView, faultOutcomes } from './outcomes.js';
export { faultTargets } from './targets.js';
