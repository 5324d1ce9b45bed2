// What can go wrong in OVN's databases beyond the OVSDB client's own errors (OvsdbError): a row
// the topology needs that is gone, or a database that holds something else under our names.
import { MerakError } from '@merak/common';

export type OvnErrorKind = 'MISSING' | 'CONFLICT' | 'CONFIG';

export class OvnError extends MerakError {
  constructor(readonly kind: OvnErrorKind, message: string) {
    super('OVN', message, { context: { kind } });
  }
}
