// A plain HTTP client for the Alcor server tests: one fresh connection per call (no keep-alive),
// so a dropped connection shows up as that call's socket error and nothing else. The benchmark's
// kept-alive client (json-client.ts) makes its exchanges here too, with its own agent.
import { type Agent, request } from 'node:http';

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  /** The body parsed as JSON; undefined when empty or not JSON. */
  readonly json: unknown;
}

export interface HttpOptions {
  /** A JSON body (serialised), sent with `content-type: application/json` unless headers say otherwise. */
  readonly body?: unknown;
  /** A raw body, sent as is. */
  readonly raw?: string;
  readonly headers?: Record<string, string>;
  /** The connection pool; default none (a fresh connection per call). */
  readonly agent?: Agent | false;
}

export function http(method: string, url: string, options: HttpOptions = {}): Promise<HttpAnswer> {
  const payload = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  const headers: Record<string, string> = { ...(payload !== undefined && options.raw === undefined ? { 'content-type': 'application/json' } : {}), ...options.headers };
  if (payload !== undefined) headers['content-length'] = String(Buffer.byteLength(payload));
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent: options.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = text === '' ? undefined : JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/** A client bound to a server's service URLs: `alcor.post('port', '/project/p/ports', body)`. */
export function clientFor<S extends string>(urls: Readonly<Record<S, string>>) {
  const call = (method: string) => (service: S, path: string, body?: unknown) =>
    http(method, `${urls[service]}${path}`, body === undefined ? {} : { body });
  return { get: call('GET'), post: call('POST'), put: call('PUT'), del: call('DELETE') };
}

type Client = ReturnType<typeof clientFor<'vpc' | 'subnet' | 'route' | 'port' | 'node' | 'sg'>>;

export interface TestNetwork { readonly vpc: string; readonly subnet: string; readonly gatewayPort: string; readonly sg: string }

/** A VPC with one subnet and an SG, made through the API; throws when a step is not 201. */
export async function createNetwork(api: Client, project: string, cidr: string, subnet: Record<string, unknown> = {}): Promise<TestNetwork> {
  const must = async (p: Promise<HttpAnswer>, what: string): Promise<Record<string, Record<string, unknown>>> => {
    const r = await p;
    if (r.status !== 201) throw new Error(`${what}: ${r.status} ${r.text}`);
    return r.json as Record<string, Record<string, unknown>>;
  };
  const vpc = await must(api.post('vpc', `/project/${project}/vpcs`, { network: { cidr: '10.0.0.0/8' } }), 'vpc');
  const sub = await must(api.post('subnet', `/project/${project}/subnets`, { subnet: { cidr, network_id: vpc.network!.id, ...subnet } }), 'subnet');
  const sg = await must(api.post('sg', `/project/${project}/security-groups`, { security_group: { name: 'sg' } }), 'sg');
  return { vpc: vpc.network!.id as string, subnet: sub.subnet!.id as string, gatewayPort: sub.subnet!.gatewayPortId as string, sg: sg.security_group!.id as string };
}
