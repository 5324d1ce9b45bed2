// List GETs filter on JSON field names (`LIB/utils/ControllerUtil.java transformUrlPathParams`):
// `?name=a&name=b` keeps entities whose `name` is a or b. `?fields=a&fields=b` limits the keys
// of the answer. Keys that are not fields of the entity are ignored (inferred).

/** Query keys that select or sort rather than filter. */
const NOT_FILTERS = new Set(['fields', 'sort_dir', 'sort_key', 'limit', 'marker', 'page_reverse']);

type Entity = Record<string, unknown>;

/** A predicate for list GETs; `knownKeys` names the entity's fields when null ones are omitted. */
export function queryFilter(query: URLSearchParams, knownKeys?: ReadonlySet<string>): (entity: Entity) => boolean {
  const wanted = new Map<string, Set<string>>();
  for (const [key, value] of query) {
    if (NOT_FILTERS.has(key)) continue;
    let values = wanted.get(key);
    if (!values) wanted.set(key, (values = new Set()));
    values.add(value);
  }
  if (wanted.size === 0) return () => true;
  return (entity) => {
    for (const [key, values] of wanted) {
      const known = knownKeys ? knownKeys.has(key) : key in entity;
      if (!known) continue;
      const v = entity[key];
      if (v === undefined || v === null || typeof v === 'object') return false;
      if (!values.has(String(v))) return false;
    }
    return true;
  };
}

/** The entity limited to `?fields=…` keys, or the entity itself when none are given. */
export function selectFields<T extends object>(query: URLSearchParams, entity: T): Partial<T> {
  const fields = query.getAll('fields');
  if (fields.length === 0) return entity;
  const out: Record<string, unknown> = {};
  for (const f of fields) if (f in entity) out[f] = (entity as Record<string, unknown>)[f];
  return out as Partial<T>;
}
