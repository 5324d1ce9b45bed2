// JSON over HTTP/1.1 with kept-alive connections (one per call in flight), as a control plane
// client talks to Alcor: the Alcor benchmark's client. Times are taken around the whole exchange.
import { Agent } from 'node:http';
import { MerakError } from '@merak/common';
import { type HttpAnswer, http } from './test-http.js';

export class AlcorRestError extends MerakError {
  constructor(message: string, context: { method: string; path: string; status: number }) {
    super('ALCOR', message, { context });
  }
}

export class JsonClient {
  private readonly agent: Agent;

  constructor(private readonly base: string, sockets: number) {
    this.agent = new Agent({ keepAlive: true, maxSockets: sockets });
  }

  call(method: string, path: string, body?: unknown): Promise<HttpAnswer> {
    return http(method, `${this.base}${path}`, body === undefined ? { agent: this.agent } : { body, agent: this.agent });
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
