// JSON over HTTP/1.1 with kept-alive connections (one per call in flight), as a control plane
// client talks to Alcor. Times are taken around the whole exchange.
import { Agent, request } from 'node:http';

export interface JsonAnswer {
  readonly status: number;
  readonly json: unknown;
  readonly text: string;
}

export class AlcorRestError extends Error {
  constructor(message: string, readonly context: { method: string; path: string; status: number }) {
    super(message);
    this.name = 'AlcorRestError';
  }
}

export class JsonClient {
  private readonly agent: Agent;

  constructor(private readonly base: string, sockets: number) {
    this.agent = new Agent({ keepAlive: true, maxSockets: sockets });
  }

  call(method: string, path: string, body?: unknown): Promise<JsonAnswer> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) };
    return new Promise((resolve, reject) => {
      const req = request(`${this.base}${path}`, { method, headers, agent: this.agent }, (res) => {
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
          resolve({ status: res.statusCode ?? 0, json, text });
        });
      });
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /** The call, or an AlcorRestError when the status is not `expect`. */
  async must(method: string, path: string, body: unknown, expect: number): Promise<Record<string, unknown>> {
    const r = await this.call(method, path, body);
    if (r.status !== expect) throw new AlcorRestError(`${method} ${path}: ${r.status} ${r.text.slice(0, 300)}`, { method, path, status: r.status });
    return r.json as Record<string, unknown>;
  }

  close(): void {
    this.agent.destroy();
  }
}
