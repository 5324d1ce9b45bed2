// The HTML report in a real browser: Debian's headless Chromium opens report.html from disk, as a
// user would, and must render it without errors, with every chart there and drawn. The screenshot
// is kept beside it as report.png (merak-report/render-check/, the CLI's report folder, ignored
// by git) for a person to look at.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { renderHtml } from '../../coordinator/report/html.js';
import { PALETTE } from '../../coordinator/report/svg.js';
import { faults, knownRun } from '../../coordinator/report/test-support/known-run.js';
import { dumpDom, screenshot } from './chromium.js';
import { countColour, readPng } from './png.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const out = join(REPO, 'merak-report', 'render-check');
const scratch = mkdtempSync(join(tmpdir(), 'merak-render-'));

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('the HTML report in headless Chromium', () => {
  const report = knownRun(faults);
  const html = renderHtml(report);
  mkdirSync(out, { recursive: true });
  const page = join(out, 'report.html');
  writeFileSync(join(out, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(page, html);
  const charts = html.match(/<svg class="chart"/g)?.length ?? 0;

  it('loads from disk with no error and every chart in its DOM', async () => {
    expect(charts).toBe(5);
    const { stdout: dom, pageErrors } = await dumpDom(page);
    expect(pageErrors).toEqual([]);
    expect(dom).toMatch(/<\/html>\s*$/);
    // Each chart parsed as SVG with its marks: bars, stacked bars and CDF lines.
    const svgs = dom.match(/<svg class="chart"[^]*?<\/svg>/g) ?? [];
    expect(svgs).toHaveLength(charts);
    for (const svg of svgs) expect(svg).toMatch(/<(rect|polyline) /);
    expect(dom.match(/<polyline /g)?.length).toBeGreaterThanOrEqual(3);
    expect(dom.match(/<g class="mark">/g)).toHaveLength(faults.length);
  });

  it('draws the charts (their colours in the screenshot) and keeps it as report.png', async () => {
    const png = join(out, 'report.png');
    rmSync(png, { force: true });
    const { pageErrors } = await screenshot(page, png, 1100, 6000);
    expect(pageErrors).toEqual([]);
    const img = readPng(readFileSync(png));
    expect([img.width, img.height]).toEqual([1100, 6000]);
    // The first series' blue fills the histogram, the timeline and the stacked steps' first step;
    // the second colour is the stacked steps' second step and the CDF's second line.
    expect(countColour(img, PALETTE[0]!)).toBeGreaterThan(5000);
    expect(countColour(img, PALETTE[1]!)).toBeGreaterThan(200);
  });

  it('would see an error: a console message of a page is caught', async () => {
    const bad = join(scratch, 'bad.html');
    writeFileSync(bad, '<!doctype html><html><body><script>console.error("merak-render-check")</script></body></html>');
    const { pageErrors } = await dumpDom(bad);
    expect(pageErrors.join('\n')).toContain('merak-render-check');
  });
});
