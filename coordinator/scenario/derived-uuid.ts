// Ids derived from names: the same scenario object gets the same id every time (a project id the
// scenario did not give, the ids of what a scenario makes in Alcor), so a resumed run finds what
// an earlier one made instead of making it twice.
import { createHash } from 'node:crypto';

/** A UUID (version 4 layout) derived from `text`. */
export function derivedUuid(text: string): string {
  const h = createHash('sha256').update(text).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
