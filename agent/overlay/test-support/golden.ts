// Golden files for the overlay's unit tests, compared as JSON. MERAK_UPDATE_GOLDEN=1 rewrites
// them; then read the diff: it is what the agent sends to OVSDB.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function golden(name: string, actual: unknown): unknown {
  const file = fileURLToPath(new URL(`../testdata/${name}`, import.meta.url));
  // One operation per line: a diff shows which operation changed.
  const text = Array.isArray(actual) ? `[\n${actual.map((x) => `  ${JSON.stringify(x)}`).join(',\n')}\n]\n` : `${JSON.stringify(actual, null, 2)}\n`;
  if (process.env.MERAK_UPDATE_GOLDEN === '1') writeFileSync(file, text);
  if (!existsSync(file)) throw new Error(`golden file ${file} is missing (MERAK_UPDATE_GOLDEN=1 writes it)`);
  return JSON.parse(readFileSync(file, 'utf8')) as unknown;
}
