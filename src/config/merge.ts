/**
 * The collector's config merge (confmap): maps merge key by key, recursively; anything else
 * from the later layer (lists, scalars, null) replaces the earlier value. Inputs are never
 * modified and the result shares nothing with them. Key order: the earlier layer's keys
 * first, then keys new in the later layer, each in their own order.
 */
import { isPlainMap, setOwn } from "./check.js";

export function deepMerge(
  a: Readonly<Record<string, unknown>>,
  b: Readonly<Record<string, unknown>>,
): Record<string, unknown>;
export function deepMerge(a: unknown, b: unknown): unknown;
export function deepMerge(a: unknown, b: unknown): unknown {
  if (!isPlainMap(a) || !isPlainMap(b)) return deepClone(b);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(a)) setOwn(out, key, deepClone(value));
  for (const [key, value] of Object.entries(b)) {
    setOwn(out, key, Object.hasOwn(out, key) ? deepMerge(out[key], value) : deepClone(value));
  }
  return out;
}

/** A structural copy of plain YAML/JSON data (maps, lists, scalars). */
export function deepClone(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(deepClone);
  if (isPlainMap(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) setOwn(out, key, deepClone(item));
    return out;
  }
  return value;
}
