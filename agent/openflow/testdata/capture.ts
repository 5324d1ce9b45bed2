// How testdata/captured.ts was made, and a way to make it again: a minimal switch on a temporary
// unix socket that answers ovs-ofctl's HELLO with an OpenFlow 1.3 HELLO, a BARRIER_REQUEST with a
// BARRIER_REPLY, an ECHO_REQUEST with an ECHO_REPLY and an ONF bundle control request (OPEN, COMMIT...)
// with its reply, and records every OFPT_FLOW_MOD it is sent and every other request in order.
// It frames and answers by hand, not with the codec under test.
//
// Print fresh captures for every command in captured.ts (needs ovs-ofctl; no root):
//   npx tsc -p agent && node agent/dist/openflow/testdata/capture.js
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CAPTURED, CAPTURED_BUNDLES, CAPTURED_HELLO, type CapturedBundle, SOCKET } from './captured.js';

const HEADER = 8;
const TYPE = { HELLO: 0, ECHO_REQUEST: 2, ECHO_REPLY: 3, EXPERIMENTER: 4, FLOW_MOD: 14, BARRIER_REQUEST: 20, BARRIER_REPLY: 21 } as const;
// ONF extension EXT-230 (bundles in OpenFlow 1.3): experimenter id and the bundle control exp_type.
const ONF_ID = 0x4f4e4600;
const ONF_BUNDLE_CONTROL = 2300;

function reply(type: number, xid: number, body: Buffer = Buffer.alloc(0)): Buffer {
  const b = Buffer.alloc(HEADER + body.length);
  b.writeUInt8(4, 0);
  b.writeUInt8(type, 1);
  b.writeUInt16BE(b.length, 2);
  b.writeUInt32BE(xid, 4);
  body.copy(b, HEADER);
  return b;
}

// A version-bitmap element offering 1.3 only (bit 4).
const HELLO_BODY = Buffer.from('0001000800000010', 'hex');

export interface Capture {
  /** The HELLO ovs-ofctl opened with. */
  readonly hello: Buffer | undefined;
  /** Its OFPT_FLOW_MODs, whole, in order. */
  readonly flowMods: readonly Buffer[];
  /** Every message after the HELLO but ECHO_REQUESTs (flow_mods, bundle messages, barriers), whole, in order. */
  readonly messages: readonly Buffer[];
}

/** The reply to a bundle control request: the same body, its type the request's + 1 (OPEN -> OPEN_REPLY). */
function bundleReply(msg: Buffer): Buffer {
  const b = Buffer.from(msg);
  b.writeUInt16BE(b.readUInt16BE(20) + 1, 20);
  return b;
}

/**
 * Runs `ovs-ofctl <args>` (SOCKET in args becomes unix:<our socket>) against the fake switch;
 * `input` is its stdin (for `add-flows <socket> -`).
 */
export async function captureOfctl(args: readonly string[], timeoutMs = 10_000, input?: string): Promise<Capture> {
  const dir = mkdtempSync(join(tmpdir(), 'merak-ofcap-'));
  const path = join(dir, 'switch.sock');
  const flowMods: Buffer[] = [];
  const messages: Buffer[] = [];
  let hello: Buffer | undefined;
  const server = createServer((c) => {
    let buf = Buffer.alloc(0);
    c.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= HEADER && buf.length >= buf.readUInt16BE(2)) {
        const msg = buf.subarray(0, buf.readUInt16BE(2));
        buf = buf.subarray(msg.length);
        const type = msg.readUInt8(1);
        const xid = msg.readUInt32BE(4);
        if (type === TYPE.HELLO) {
          hello ??= Buffer.from(msg);
          c.write(reply(TYPE.HELLO, xid, HELLO_BODY));
          continue;
        }
        if (type !== TYPE.ECHO_REQUEST) messages.push(Buffer.from(msg));
        if (type === TYPE.EXPERIMENTER && msg.length >= 24 && msg.readUInt32BE(8) === ONF_ID && msg.readUInt32BE(12) === ONF_BUNDLE_CONTROL) {
          c.write(bundleReply(msg));
        }
        else if (type === TYPE.BARRIER_REQUEST) c.write(reply(TYPE.BARRIER_REPLY, xid));
        else if (type === TYPE.ECHO_REQUEST) c.write(reply(TYPE.ECHO_REPLY, xid, msg.subarray(HEADER)));
        else if (type === TYPE.FLOW_MOD) flowMods.push(Buffer.from(msg));
      }
    });
    c.on('error', () => undefined);
  });
  try {
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(path, resolve));
    const argv = args.map((a) => (a === SOCKET ? `unix:${path}` : a));
    await new Promise<void>((resolve, reject) => {
      let stderr = '';
      const child = spawn('ovs-ofctl', argv, { stdio: [input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'] });
      child.stdin?.end(input);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      child.once('error', reject);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve();
        else reject(new Error(`ovs-ofctl ${argv.join(' ')}: exit ${code ?? signal}: ${stderr.trim()}`));
      });
    });
    return { hello, flowMods, messages };
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  for (const [name, c] of Object.entries(CAPTURED)) {
    const { flowMods } = await captureOfctl(c.args);
    const hex = flowMods.map((m) => m.toString('hex')).join('');
    console.log(`${hex === c.hex ? 'same   ' : 'CHANGED'} ${name}: ${hex}`);
  }
  for (const [name, c] of Object.entries<CapturedBundle>(CAPTURED_BUNDLES)) {
    const { messages } = await captureOfctl(c.args, undefined, c.input);
    const hex = messages.map((m) => m.toString('hex'));
    console.log(`${hex.join() === c.hex.join() ? 'same   ' : 'CHANGED'} ${name}:\n  ${hex.join('\n  ')}`);
  }
  const hello = (await captureOfctl(CAPTURED_HELLO.args)).hello?.toString('hex') ?? '';
  console.log(`${hello === CAPTURED_HELLO.hex ? 'same   ' : 'CHANGED'} hello: ${hello}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
