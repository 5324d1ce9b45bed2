// The local emulation's record files (state, endpoint, supervision): JSON a reader may open while
// a writer replaces it, so every write is atomic (write a sibling, then rename over the file).
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

/** The parsed file, or undefined when there is none. */
export function readJsonFile<T>(file: string): T | undefined {
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

/** Atomically (write + rename): a reader never sees half a file. */
export function writeJsonFile(file: string, value: unknown): void {
  writeFileSync(`${file}.tmp`, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}
