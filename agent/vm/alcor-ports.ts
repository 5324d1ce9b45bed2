// The agent's part of Alcor: a VM's port, allocated, bound to this host and released through
// Alcor's port manager, exactly as Alcor's port API defines them (Merak's calls,
// without its bugs). The port's id is chosen by the coordinator, so a create that is tried again,
// or sent again after a restart, finds the port it made instead of making a second one; a create
// that timed out is waited for before it is sent again (create-or-adopt.ts), and the bind checks
// that the port is still the one allocated.
import { MerakError } from '@merak/common';
import { type AlcorCall, AlcorHttp } from '@merak/common';
import { createOrAdopt } from '@merak/common';
import type { RetryEvent } from '@merak/common';

export interface AlcorPortSettings {
  /** The port manager's base URL (http://host:30006). */
  readonly portUrl: string;
  readonly projectId: string;
  readonly tenantId: string;
  /** The VPC's id in Alcor. */
  readonly networkId: string;
  readonly subnetId: string;
  readonly securityGroupIds: readonly string[];
  readonly portId: string;
  /** binding:host_id: this host's node_name in Alcor. */
  readonly hostId: string;
  readonly timeoutMs: number;
  readonly retries: number;
}

export interface AllocatedPort {
  readonly id: string;
  readonly ip: string;
  readonly mac: string;
}

interface PortJson {
  readonly port?: { readonly id?: string; readonly mac_address?: string; readonly fixed_ips?: ReadonlyArray<{ readonly ip_address?: string; readonly subnet_id?: string }> };
}

const PORTS = '/project/{project_id}/ports';
const PORT = '/project/{project_id}/ports/{port_id}';

/**
 * Alcor holds the port with other addresses than the ones allocated: a create that had timed out
 * landed after the one that was retried, and replaced the port (Alcor's create with an existing id
 * overwrites). The VM must not go on with addresses Alcor no longer has.
 */
export class AlcorPortReplacedError extends MerakError {
  constructor(readonly portId: string, readonly allocated: AllocatedPort, readonly now: AllocatedPort) {
    super('ALCOR', `Alcor port ${portId} was replaced after it was allocated (a late create landed): allocated ${allocated.ip} ${allocated.mac}, Alcor now has ${now.ip} ${now.mac}`,
      { context: { portId } });
  }
}

export class AlcorPorts {
  private readonly client: AlcorHttp;

  /** `onCall` sees every call made for this VM (retries included), for its result and the report. */
  constructor(private readonly s: AlcorPortSettings, onCall: (c: AlcorCall) => void, onRetry?: (r: RetryEvent) => void) {
    this.client = new AlcorHttp({ timeoutMs: s.timeoutMs, retries: s.retries, onCall, ...(onRetry ? { onRetry } : {}) });
  }

  private http(): AlcorHttp {
    return this.client;
  }

  private portPath(): string {
    return `/project/${encodeURIComponent(this.s.projectId)}/ports/${encodeURIComponent(this.s.portId)}`;
  }

  /** The port as Alcor has it, or undefined (404). */
  async get(): Promise<AllocatedPort | undefined> {
    const res = await this.http().call({ method: 'GET', base: this.s.portUrl, path: this.portPath(), template: PORT, expect: [200], absent: [404], idempotent: true });
    return res.absent ? undefined : this.parse(res.json, 'GET');
  }

  /**
   * Alcor allocates the port: an IP from the subnet and a MAC (a minimal create, as Merak made it).
   * `maybeExists`: an earlier attempt may have made it already (a resent create): look first.
   * A POST that got no clear answer is never blindly repeated: the port is looked up (after a
   * timeout, for as long again), adopted when there, and only made again when Alcor does not have it.
   */
  async allocate(vmName: string, maybeExists: boolean): Promise<AllocatedPort> {
    if (maybeExists) {
      const found = await this.get();
      if (found) return found;
    }
    const body = {
      port: {
        id: this.s.portId, admin_state_up: true, device_id: vmName, network_id: this.s.networkId,
        // [] keeps Alcor from picking its default group; absent lets it.
        ...(this.s.securityGroupIds.length > 0 ? { security_groups: [...this.s.securityGroupIds] } : {}),
        fixed_ips: [{ subnet_id: this.s.subnetId }], tenant_id: this.s.tenantId,
      },
    };
    const path = `/project/${encodeURIComponent(this.s.projectId)}/ports`;
    const { value } = await createOrAdopt({
      endpoint: `POST ${PORTS}`, http: this.http(), settleMs: this.s.timeoutMs,
      lookup: () => this.get(),
      create: async (retry) => this.parse((await this.http().call({ method: 'POST', base: this.s.portUrl, path, template: PORTS, body, expect: [201], idempotent: false, retry })).json, 'POST'),
    });
    return value;
  }

  /**
   * Binds the port to this host (Merak's update, less its leftovers): Alcor then programs the host.
   * With `allocated`, the answer (the port as Alcor now holds it) must still carry its addresses.
   */
  async bind(vmName: string, allocated?: AllocatedPort): Promise<void> {
    const res = await this.http().call({
      method: 'PUT', base: this.s.portUrl, path: this.portPath(), template: PORT, expect: [200], idempotent: true,
      body: {
        port: {
          project_id: this.s.projectId, id: this.s.portId, name: vmName, description: '', network_id: this.s.networkId, tenant_id: this.s.tenantId,
          admin_state_up: true, device_id: vmName, device_owner: 'compute:nova', fast_path: true, 'binding:host_id': this.s.hostId,
        },
      },
    });
    if (!allocated) return;
    const now = this.parse(res.json, 'PUT');
    if (now.ip !== allocated.ip || now.mac !== allocated.mac) throw new AlcorPortReplacedError(this.s.portId, allocated, now);
  }

  /** Deletes the port; 'absent' when Alcor no longer had it. */
  async release(): Promise<'deleted' | 'absent'> {
    const res = await this.http().call({ method: 'DELETE', base: this.s.portUrl, path: this.portPath(), template: PORT, expect: [200], absent: [404], idempotent: true });
    return res.absent ? 'absent' : 'deleted';
  }

  private parse(json: unknown, how: string): AllocatedPort {
    const port = (json as PortJson | undefined)?.port;
    const ip = port?.fixed_ips?.find((f) => f.subnet_id === undefined || f.subnet_id === this.s.subnetId)?.ip_address;
    const mac = port?.mac_address;
    if (!port || port.id !== this.s.portId || !ip || !mac) {
      // Not transient: asking again would get the same answer.
      throw new MerakError('ALCOR', `Alcor ${how} ${how === 'POST' ? PORTS : PORT}: the answer has no port ${this.s.portId} with an IP on subnet ${this.s.subnetId} and a MAC: ${JSON.stringify(json ?? null).slice(0, 300)}`);
    }
    return { id: port.id, ip, mac: mac.toLowerCase() };
  }
}
