// Progress of a scenario on a terminal: a bar redrawn in place on a TTY, a line every few seconds
// otherwise (CI logs, pipes).
import type { coordinatorV1 } from '@merak/proto';

const WIDTH = 30;
const PLAIN_EVERY_MS = 5000;

export class ProgressBar {
  private lastPlain = 0;
  private drawn = false;
  private readonly started = Date.now();

  constructor(private readonly out: NodeJS.WriteStream = process.stderr) {}

  update(s: coordinatorV1.Scenario, message: string): void {
    const c = s.vms;
    const requested = c?.requested ?? 0;
    const done = (c?.ready ?? 0) + (c?.failed ?? 0);
    const seconds = (Date.now() - this.started) / 1000;
    const rate = seconds > 0 ? (c?.ready ?? 0) / seconds : 0;
    const lost = s.lostHosts.length > 0 ? `, agents lost: ${s.lostHosts.join(' ')} (${c?.waiting ?? 0} VMs waiting)` : '';
    const text = `${done}/${requested} VMs: ${c?.ready ?? 0} ready, ${c?.failed ?? 0} failed (${rate.toFixed(1)}/s)${lost}`;
    if (this.out.isTTY) {
      const filled = requested > 0 ? Math.round((WIDTH * done) / requested) : 0;
      this.out.write(`\r\x1b[2K  [${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${text}`);
      this.drawn = true;
      if (message !== 'progress' && message !== 'watching') this.line(`  ${message}`);
    } else if (message !== 'progress' || Date.now() - this.lastPlain >= PLAIN_EVERY_MS) {
      this.lastPlain = Date.now();
      this.out.write(`  ${text}${message !== 'progress' && message !== 'watching' ? ` -- ${message}` : ''}\n`);
    }
  }

  /** A line of its own (the bar, if any, is finished first). */
  line(text: string): void {
    if (this.drawn) this.out.write('\n');
    this.drawn = false;
    this.out.write(`${text}\n`);
  }

  done(): void {
    if (this.drawn) this.out.write('\n');
    this.drawn = false;
  }
}
