// Reading a request body the way Jackson binds it to Alcor's Java classes: unknown keys are
// ignored, scalars are coerced to String, and a value of the wrong shape is a 400
// "JSON parse error". Each reader tells three cases apart: key absent (undefined), JSON null
// (null), or a value — a few Alcor setters treat an explicit null differently.
import type { JsonObject, JsonValue } from './entities.js';
import { AlcorHttpError } from './errors.js';

function shapeError(key: string, javaType: string, value: JsonValue): AlcorHttpError {
  const token = Array.isArray(value) ? 'START_ARRAY' : typeof value === 'object' ? 'START_OBJECT' : `VALUE_${typeof value}`;
  return new AlcorHttpError(400, `JSON parse error: Cannot deserialize instance of \`${javaType}\` out of ${token} token (field "${key}")`);
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A JSON object field: absent, null or an object. */
export function readObject(obj: JsonObject, key: string): JsonObject | null | undefined {
  if (!(key in obj)) return undefined;
  const v = obj[key]!;
  if (v === null) return null;
  if (!isObject(v)) throw shapeError(key, 'java.lang.Object', v);
  return v;
}

/** A String field; numbers and booleans are coerced as Jackson does. */
export function readString(obj: JsonObject, key: string): string | null | undefined {
  if (!(key in obj)) return undefined;
  const v = obj[key]!;
  if (v === null) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw shapeError(key, 'java.lang.String', v);
}

export function readBool(obj: JsonObject, key: string): boolean | null | undefined {
  if (!(key in obj)) return undefined;
  const v = obj[key]!;
  if (v === null) return null;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'false') return v === 'true';
  if (typeof v === 'number' && Number.isInteger(v)) return v !== 0;
  throw shapeError(key, 'java.lang.Boolean', v);
}

export function readInt(obj: JsonObject, key: string): number | null | undefined {
  if (!(key in obj)) return undefined;
  const v = obj[key]!;
  if (v === null) return null;
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return Number(v);
  throw shapeError(key, 'java.lang.Integer', v);
}

/** A JSON array field; items are checked by the caller. */
export function readArray(obj: JsonObject, key: string): JsonValue[] | null | undefined {
  if (!(key in obj)) return undefined;
  const v = obj[key]!;
  if (v === null) return null;
  if (!Array.isArray(v)) throw shapeError(key, 'java.util.ArrayList', v);
  return v;
}

export function readStringArray(obj: JsonObject, key: string): string[] | null | undefined {
  const a = readArray(obj, key);
  if (a === undefined || a === null) return a;
  return a.map((item) => {
    if (typeof item === 'string') return item;
    if (typeof item === 'number' || typeof item === 'boolean') return String(item);
    throw shapeError(key, 'java.lang.String', item ?? 'null');
  });
}

/** The request's wrapper object (`{"port": …}`): the body must be a JSON object. */
export function requestObject(body: unknown, javaType: string): JsonObject {
  if (!isObject(body)) {
    const token = Array.isArray(body) ? 'START_ARRAY' : `VALUE_${typeof body}`;
    throw new AlcorHttpError(400, `JSON parse error: Cannot deserialize instance of \`${javaType}\` out of ${token} token`);
  }
  return body;
}
