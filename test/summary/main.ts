// scripts/test.sh's last step: `node test/dist/summary/main.js <summary.json> <vitest exit code>`
// prints "tests: N passed, N failed (...)" and exits with the run's code (summary.ts).
import { readFileSync } from 'node:fs';
import { exitCode, parseSummary, summaryLine, type RunSummary } from './summary.js';

function main(argv: readonly string[]): number {
  const [file, code] = argv;
  const vitestExit = Number(code);
  if (!file || !Number.isInteger(vitestExit)) {
    process.stderr.write('usage: main.js <summary.json> <vitest exit code>\n');
    return 2;
  }
  let summary: RunSummary | undefined;
  try {
    summary = parseSummary(readFileSync(file, 'utf8'));
  } catch {
    summary = undefined; // vitest ended before its reporters ran: said as such by summaryLine
  }
  console.log(summaryLine(summary, vitestExit));
  return exitCode(summary, vitestExit);
}

process.exitCode = main(process.argv.slice(2));
