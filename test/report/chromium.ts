// Debian's Chromium, headless, from its command line (no npm dependency): a page's DOM after it
// loaded, a screenshot, and the console messages and errors it logged about the page. Each call
// has its own profile folder, removed after; the browser is killed by the timeout if it hangs.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export class ChromiumError extends Error {
  constructor(readonly args: readonly string[], readonly stderr: string, cause: unknown) {
    super(`chromium ${args.join(' ')} failed: ${stderr.split('\n').slice(-5).join('\n')}`, { cause });
  }
}

const BASE_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--enable-logging=stderr', '--v=0', '--hide-scrollbars',
];

export interface Rendered {
  /** Standard output (the DOM with --dump-dom). */
  readonly stdout: string;
  /** What the page logged to its console, and errors Chromium logged about the page itself. */
  readonly pageErrors: readonly string[];
}

function chromium(flags: readonly string[], file: string): Promise<Rendered> {
  const profile = mkdtempSync(join(tmpdir(), 'merak-chromium-'));
  const args = [...BASE_FLAGS, `--user-data-dir=${profile}`, ...flags, pathToFileURL(file).href];
  return new Promise<Rendered>((resolve, reject) => {
    execFile('chromium', args, { timeout: 90_000, maxBuffer: 64 * 1024 * 1024, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      rmSync(profile, { recursive: true, force: true });
      if (err) return reject(new ChromiumError(args, stderr, err));
      // A page with no scripts logs nothing: any console line is a fault, as is an error naming the page.
      const page = pathToFileURL(file).href;
      const pageErrors = stderr.split('\n').filter((l) => /:CONSOLE[:(]/.test(l) || (/:ERROR:/.test(l) && l.includes(page)));
      resolve({ stdout, pageErrors });
    });
  });
}

/** The page's DOM once loaded. */
export const dumpDom = (file: string): Promise<Rendered> => chromium(['--dump-dom'], file);

/** A screenshot of the page's first `width` x `height` pixels, written to `png`. */
export const screenshot = (file: string, png: string, width: number, height: number): Promise<Rendered> =>
  chromium([`--screenshot=${png}`, `--window-size=${width},${height}`], file);
