// Alcor's GoalStateProvisioner as its host agent serves it, plaintext like Alcor's own ends.
// PushGoalStatesStream is declared bidirectional but used as one request, one reply: the first
// message of a call is applied, one reply is written and the call ends OK, whether or not the
// client half-closed (Alcor's NCM never half-closes its warm-up calls). Further messages on the
// call are ignored. Processing problems are statuses in the reply, never a failed call: NCM
// treats a failed call as "still waiting" for minutes.
import { type ServerDuplexStream, Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall, status } from '@grpc/grpc-js';
import { alcor } from '@merak/proto';
import { netnsEnter } from '@merak/native';
import { closeSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import type { Logger } from 'pino';
import { errorMessage } from '@merak/common';
import { decodeV1, decodeV2 } from './decode.js';
import type { GoalStateHostAgent } from './host-agent.js';

export interface GoalStateServer {
  /** HOST:PORT as bound (the port resolved when 0 was asked). */
  readonly address: string;
  readonly port: number;
  /** Calls being served (a warm-up call stays open only until its reply). */
  active(): number;
  close(graceMs?: number): Promise<void>;
}

function unimplemented<Req, Res>(what: string) {
  return (_call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
    callback({ code: status.UNIMPLEMENTED, details: `${what} is served by Alcor's NCM, not by a host agent` });
  };
}

export function goalStateHandlers(agent: GoalStateHostAgent, logger: Logger, calls: { active: number }): alcor.GoalStateProvisionerServer {
  return {
    pushGoalStatesStream(call: ServerDuplexStream<alcor.GoalStateV2, alcor.GoalStateOperationReply>): void {
      calls.active++;
      let taken = false;
      let finished = false;
      const finish = (): void => {
        if (finished) return;
        finished = true;
        calls.active--;
      };
      call.on('error', (e) => {
        logger.debug({ err: errorMessage(e) }, 'GoalState stream error');
        finish();
      });
      call.on('cancelled', finish);
      call.on('data', (message: alcor.GoalStateV2) => {
        if (taken) return;
        taken = true;
        const receivedAtMs = Date.now();
        agent.apply(decodeV2(message), receivedAtMs).then(
          (reply) => {
            if (!call.cancelled) {
              call.write(reply);
              call.end();
            }
            finish();
          },
          (e: unknown) => {
            // Not expected (apply turns every problem into a status); the call still ends.
            logger.error({ err: errorMessage(e) }, 'GoalState message could not be applied');
            if (!call.cancelled) call.end();
            finish();
          },
        );
      });
      call.on('end', () => {
        // Half-closed before any message: nothing to apply, the call ends with OK and no reply.
        if (!taken) {
          taken = true;
          call.end();
          finish();
        }
      });
    },

    pushNetworkResourceStates(call: ServerUnaryCall<alcor.GoalState, alcor.GoalStateOperationReply>, callback: sendUnaryData<alcor.GoalStateOperationReply>): void {
      agent.apply(decodeV1(call.request), Date.now()).then(
        (reply) => callback(null, reply),
        (e: unknown) => callback({ code: status.INTERNAL, details: errorMessage(e) }),
      );
    },

    requestGoalStates: unimplemented('RequestGoalStates'),
    pushGoalstates: unimplemented('PushGoalstates (Arion)'),
  };
}

/**
 * Serves GoalStateProvisioner on `listen` (HOST:PORT; port 0 = any free one), in the network
 * namespace `netns` when given (an agent serving a vhost from outside its namespace): the listening
 * socket is made there and its connections are handed to the gRPC server.
 */
export async function startGoalStateServer(listen: string, agent: GoalStateHostAgent, logger: Logger, netns?: string): Promise<GoalStateServer> {
  // A host with many neighbors receives large messages: no size limit, as Alcor's agent.
  const server = new Server({ 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 });
  const calls = { active: 0 };
  server.addService(alcor.GoalStateProvisionerService, goalStateHandlers(agent, logger, calls));
  const host = listen.slice(0, listen.lastIndexOf(':'));
  const { port, closeListener } = netns === undefined ? await bindHere(server, listen) : await bindInside(server, netns, host, Number(listen.slice(listen.lastIndexOf(':') + 1)));
  const address = `${host}:${port}`;
  logger.info({ goalstate: address, ...(netns ? { netns } : {}) }, 'GoalState server listening (plaintext, as Alcor)');
  return {
    address,
    port,
    active: () => calls.active,
    async close(graceMs = 5000): Promise<void> {
      closeListener();
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => { server.forceShutdown(); resolve(); }, graceMs);
        force.unref();
        server.tryShutdown(() => { clearTimeout(force); resolve(); });
      });
    },
  };
}

interface Bound {
  readonly port: number;
  /** Stops accepting (the gRPC server's shutdown ends the connections it has). */
  closeListener(): void;
}

async function bindHere(server: Server, listen: string): Promise<Bound> {
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(listen, ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { port, closeListener: () => undefined };
}

/** A listener made inside `netns`; its connections go to `server` (which closes them on shutdown). */
async function bindInside(server: Server, netns: string, host: string, port: number): Promise<Bound> {
  const [fd] = await netnsEnter(netns, { listen: { ip: host === 'localhost' ? '127.0.0.1' : host, port } });
  const injector = server.createConnectionInjector(ServerCredentials.createInsecure());
  const tcp = createServer((socket) => injector.injectConnection(socket));
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', (e) => { closeSync(fd!); reject(e); });
    tcp.listen({ fd: fd! }, () => resolve());
  });
  return { port: (tcp.address() as AddressInfo).port, closeListener: () => tcp.close() };
}
