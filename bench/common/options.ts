// What every bench's flag parsing shares: the error that names the flag, and whole numbers in range.
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { errorMessage } from '@merak/common';

export class BenchOptionError extends Error {
  /** `flag` undefined: the command line itself did not parse (an unknown flag, a missing value). */
  constructor(readonly flag: string | undefined, message: string) {
    super(`${flag === undefined ? '' : `--${flag}: `}${message} (see --help)`);
  }
}

/** `text` as an integer in 1..max, or an error naming `flag`. */
export function positiveInt(flag: string, text: string, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isInteger(n) || n < 1 || n > max) throw new BenchOptionError(flag, `'${text}' is not an integer in 1..${max}`);
  return n;
}

/** The flags of `argv` as `options` declares them; what does not parse is a BenchOptionError. */
export function parseFlags<const O extends NonNullable<ParseArgsConfig['options']>>(argv: readonly string[], options: O): ReturnType<typeof parseArgs<{ args: string[]; options: O }>>['values'] {
  try {
    return parseArgs({ args: [...argv], options }).values;
  } catch (e) {
    throw new BenchOptionError(undefined, errorMessage(e));
  }
}
