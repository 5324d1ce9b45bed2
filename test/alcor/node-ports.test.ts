// The two listening modes: one listener per service on the NodePort layout answers only its own
// service's paths, like the real deployment (each Spring service 404s the others' paths); one
// port for everything routes `/subnets/…` paths to the right service.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALCOR_SERVICES, type AlcorServer, type AlcorService, startAlcorServer } from './index.js';
import { clientFor, createNetwork, http } from './test-http.js';

const P = 'p1';

describe('node-ports mode', () => {
  let alcor: AlcorServer;
  let paths: Record<AlcorService, [string, string]>;

  beforeAll(async () => {
    alcor = await startAlcorServer({ mode: 'node-ports' });
    const net = await createNetwork(clientFor(alcor.urls), P, '10.1.0.0/24');
    // One GET per service that answers 200 on its own listener.
    paths = {
      vpc: ['GET', `/project/${P}/vpcs/${net.vpc}`],
      subnet: ['GET', `/project/${P}/subnets/${net.subnet}`],
      route: ['GET', `/project/${P}/subnets/${net.subnet}/routetable`],
      port: ['GET', `/project/${P}/ports/${net.gatewayPort}`],
      node: ['GET', '/nodes'],
      sg: ['GET', `/project/${P}/security-groups/${net.sg}`],
    };
  });
  afterAll(async () => {
    await alcor.close();
  });

  it('listens on six distinct ports', () => {
    expect(new Set(Object.values(alcor.urls)).size).toBe(6);
    expect(Object.keys(alcor.urls).sort()).toEqual([...ALCOR_SERVICES].sort());
  });

  it('each listener answers its own service\'s paths and 404s every other service\'s, in its own Spring flavour', async () => {
    for (const listener of ALCOR_SERVICES) {
      for (const service of ALCOR_SERVICES) {
        const [method, path] = paths[service];
        const r = await http(method, `${alcor.urls[listener]}${path}`);
        if (service === listener) {
          expect([listener, service, r.status]).toEqual([listener, service, 200]);
        } else {
          expect([listener, service, r.status]).toEqual([listener, service, 404]);
          // The SG manager runs Spring Boot 2.3: no message in its error bodies.
          expect((r.json as { message: string }).message).toBe(listener === 'sg' ? '' : 'No message available');
        }
      }
    }
    const wrong = alcor.calls.last({ path: paths.vpc[1], status: 404 })!;
    expect([wrong.listener, wrong.service, wrong.route]).toEqual(['sg', undefined, undefined]);
    const right = alcor.calls.last({ path: paths.vpc[1], status: 200 })!;
    expect([right.listener, right.service, right.route]).toEqual(['vpc', 'vpc', 'GET /project/{projectid}/vpcs/{vpcid}']);
  });

  it('listens on basePort + the NodePort offsets (30001/2/3/6/7/8 for 30000)', async () => {
    // A random base in a high range; another process may hold one of its ports, so a few tries.
    let server: AlcorServer | undefined;
    let base = 0;
    for (let attempt = 0; attempt < 5 && !server; attempt++) {
      base = 41000 + Math.floor(Math.random() * 200) * 10;
      server = await startAlcorServer({ mode: 'node-ports', basePort: base }).catch(() => undefined);
    }
    expect(server).toBeDefined();
    try {
      expect(Object.values(server!.urls).map((u) => Number(new URL(u).port) - base)).toEqual([1, 2, 3, 6, 7, 8]);
      expect((await http('GET', `${server!.urls.node}/nodes`)).json).toEqual({ nodeInfos: [] });
    } finally {
      await server!.close();
    }
  });
});

describe('single mode', () => {
  it('serves every service on one URL and tells /subnets/{s} (subnet manager) from /subnets/{s}/routetable (route manager)', async () => {
    const alcor = await startAlcorServer();
    try {
      expect(new Set(Object.values(alcor.urls)).size).toBe(1);
      const net = await createNetwork(clientFor(alcor.urls), P, '10.2.0.0/24');
      await http('GET', `${alcor.urls.subnet}/project/${P}/subnets/${net.subnet}`);
      await http('GET', `${alcor.urls.route}/project/${P}/subnets/${net.subnet}/routetable`);
      await http('GET', `${alcor.urls.subnet}/subnets/${net.subnet}`);
      expect(alcor.calls.all().slice(-3).map((c) => [c.service, c.listener, c.status])).toEqual([['subnet', 'all', 200], ['route', 'all', 200], ['subnet', 'all', 200]]);
    } finally {
      await alcor.close();
    }
  });

  it('refuses a port that is taken, and closes cleanly', async () => {
    const a = await startAlcorServer();
    try {
      const port = Number(new URL(a.urls.vpc).port);
      await expect(startAlcorServer({ port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    } finally {
      await a.close();
    }
    await expect(http('GET', `${a.urls.node}/nodes`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});
