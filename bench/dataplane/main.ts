// Data-plane benchmark: one VPC of --vms VMs placed uniformly on --hosts emulated vhosts, then the
// ping test over --pairs sampled same-VPC pairs, from cold caches (a fresh emulation, the first
// test after creation), once with the neighbor tables (the coordinator's default) and once with the
// baseline, `--dataplane flood` (flood and learn over the same tunnels and static tunnel
// neighbors). What the report says is checked from outside before it is printed: VM namespaces by
// `ip netns`, br-tun's flows by `ovs-ofctl dump-flows` against what the plan implies, the pair
// count. Each mode runs on its own emulation, torn down after (also on failure or SIGINT/SIGTERM).
//
// Usage: npm run bench:dataplane -- [--hosts N (default 5, at most 64)] [--vms N (default 10 x hosts)]
//   [--pairs N (default 1000)] [--count N (default 3)] [--timeout-ms MS (default 15000)]
//   [--skip-baseline] [--modes neighbors,flood (which to run, in order)]
//   [--keep (leave each emulation up to look at it; remove with merak local down)]
// The last line of output is one JSON object with the figures.
//
// Why 3 echoes and 15 s: a VM's kernel queues its echoes while it resolves the target by ARP (up to
// 3 requests, 1 s apart), so a path that works after a lost request or two answers in about 2 s plus
// its RTT. But on a loaded 2-core machine the userspace datapaths hold packets for seconds: at 50
// vhosts (one run) the flood baseline's first replies came up to 7.3 s after the first echo (RTT p99 6 s);
// with 5 s it passed 166 pairs of 1,000 where 15 s gave it 402. 15 s is twice the slowest reply seen,
// so a slow but working path counts as working; the output says so when replies come near the end of
// the wait. The wait also paces the test (each agent pings from 4 VMs at a time), so it is the same
// for both modes.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errorMessage } from '@merak/common';
import { loadModules } from './coordinator-modules.js';
import type { Mode, ModeFigures } from './figures.js';
import { linksWithPrefix, namespacesWithPrefix, processesMentioning } from '../common/host-state.js';
import { runBenchMain } from '../common/lifecycle.js';
import { parseOptions } from './options.js';
import { jsonLine, ratios, table } from './output.js';
import { runMode } from './run-mode.js';
import { handleStopSignals, progress, stop, throwIfStopped } from './stop.js';

handleStopSignals();

async function main(): Promise<void> {
  const { o, modes } = parseOptions();
  if (process.getuid?.() !== 0) throw new Error('the benchmark needs root (network namespaces, OVS)');
  const m = await loadModules();
  const prefix = `md${randomBytes(3).toString('hex')}`;
  const root = mkdtempSync(join(tmpdir(), `merak-${prefix}-`));
  const results: Partial<Record<Mode, ModeFigures>> = {};
  const errors: string[] = [];
  try {
    for (const mode of modes) {
      throwIfStopped();
      try {
        results[mode] = await runMode(mode, o, root, prefix, m);
        const r = results[mode];
        progress(`${mode}: ${r.pairs.passed}/${r.pairs.tested} pairs passed, first reply p50 ${r.firstReplyMs.p50} ms p99 ${r.firstReplyMs.p99} ms, ${r.vms.ready} VMs ready`);
        for (const p of r.failedPairsSample) progress(`${mode}:   failed pair ${p}`);
      } catch (e) {
        const msg = `${mode}: ${errorMessage(e)}`;
        errors.push(msg);
        progress(`${msg} (mode abandoned)`);
        if (stop.signal !== undefined) break;
      }
    }
  } finally {
    if (!o.keep) rmSync(root, { recursive: true, force: true });
  }
  if (!o.keep) {
    // Seen from outside: nothing of the prefix may be left.
    const left = [...(await namespacesWithPrefix(prefix)), ...(await linksWithPrefix(prefix)), ...processesMentioning(root).map((p) => `process ${p}`), ...(existsSync(root) ? [root] : [])];
    if (left.length > 0) errors.push(`left behind: ${left.join(', ')}`);
    progress(left.length === 0 ? `nothing of ${prefix} is left (namespaces, links, processes, files)` : `LEFT BEHIND: ${left.join(', ')}`);
  }
  const n = results.neighbors;
  const f = results.flood;
  const ratio = ratios(n, f);
  const cols = modes.flatMap((x) => results[x] ?? []);
  if (cols.length > 0) {
    console.log('');
    console.log(table(o, cols, ratio));
    for (const c of cols) for (const note of c.notes) console.log(`note (${c.dataplane}): ${note}`);
  }
  const problems = [...errors, ...(n?.problems ?? []).map((p) => `neighbors: ${p}`), ...(f?.problems ?? []).map((p) => `flood: ${p}`)];
  if (problems.length > 0) process.exitCode = 1;
  console.log(jsonLine(o, results, ratio, errors));
}

// The event loop held until the teardown ends; an error outside the run stops it like SIGTERM.
runBenchMain(main);
