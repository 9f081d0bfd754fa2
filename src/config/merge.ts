/**
 * Config merges. `deepMerge` is the collector's (confmap): maps merge key by key,
 * recursively; anything else from the later layer (lists, scalars, null) replaces the
 * earlier value. `mergeCollectorLayers` adds the official Go supervisor's two exceptions for
 * composing a collector config (extension lists, resource attributes). Inputs are never
 * modified and results share nothing with them. Key order: the earlier layer's keys first,
 * then keys new in the later layer, each in their own order.
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

/**
 * The official Go supervisor's layer merge on top of confmap's: `service.extensions` lists
 * are concatenated without duplicates (first occurrence wins the position), and
 * `service.telemetry.resource.attributes` lists are merged by attribute `name` (a later
 * entry replaces an earlier one in place; entries without a name are appended). With
 * `clearResourceAttributes` the earlier layers' resource is dropped first, keeping only its
 * `schema_url` and `detectors` (Go does this before a remote config that declares attributes).
 */
export function mergeCollectorLayers(
  base: Readonly<Record<string, unknown>>,
  incoming: Readonly<Record<string, unknown>>,
  options: { clearResourceAttributes?: boolean } = {},
): Record<string, unknown> {
  const start = options.clearResourceAttributes ? withoutResourceAttributes(base) : base;
  const baseExtensions = listAt(start, ["service", "extensions"]);
  const incomingExtensions = listAt(incoming, ["service", "extensions"]);
  const baseAttributes = listAt(start, ATTRIBUTES);
  const incomingAttributes = listAt(incoming, ATTRIBUTES);
  const merged = deepMerge(start, incoming);
  if (baseExtensions.length > 0 || incomingExtensions.length > 0) {
    setAt(merged, ["service", "extensions"], unique([...baseExtensions, ...incomingExtensions]));
  }
  if (baseAttributes.length > 0 && incomingAttributes.length > 0) {
    setAt(merged, ATTRIBUTES, mergeByName(baseAttributes, incomingAttributes));
  }
  return merged;
}

const ATTRIBUTES = ["service", "telemetry", "resource", "attributes"] as const;

/** Does this layer declare service.telemetry.resource.attributes (as a list)? */
export function declaresResourceAttributes(layer: Readonly<Record<string, unknown>>): boolean {
  return Array.isArray(valueAt(layer, ATTRIBUTES));
}

function valueAt(root: unknown, keys: readonly string[]): unknown {
  let node = root;
  for (const key of keys) {
    if (!isPlainMap(node) || !Object.hasOwn(node, key)) return undefined;
    node = node[key];
  }
  return node;
}

function listAt(root: unknown, keys: readonly string[]): unknown[] {
  const value = valueAt(root, keys);
  return Array.isArray(value) ? (deepClone(value) as unknown[]) : [];
}

/** Sets a value under maps that exist (the merge just produced them). */
function setAt(root: Record<string, unknown>, keys: readonly string[], value: unknown): void {
  let node: Record<string, unknown> = root;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (!isPlainMap(next)) return;
    node = next;
  }
  setOwn(node, keys[keys.length - 1] as string, value);
}

/** Scalars compare by value (Go compares the decoded values); anything else is kept as is. */
function unique(items: unknown[]): unknown[] {
  const seen = new Set<unknown>();
  const out: unknown[] = [];
  for (const item of items) {
    const id = typeof item === "object" && item !== null ? item : `${typeof item}:${String(item)}`;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(item);
  }
  return out;
}

function mergeByName(base: unknown[], incoming: unknown[]): unknown[] {
  const out: unknown[] = [];
  const index = new Map<string, number>();
  for (const attribute of [...base, ...incoming]) {
    const name =
      isPlainMap(attribute) && typeof attribute.name === "string" && attribute.name !== "" ? attribute.name : null;
    if (name === null) {
      out.push(attribute);
      continue;
    }
    const at = index.get(name);
    if (at !== undefined) out[at] = attribute;
    else {
      index.set(name, out.length);
      out.push(attribute);
    }
  }
  return out;
}

function withoutResourceAttributes(config: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const copy = deepClone(config) as Record<string, unknown>;
  const telemetry = valueAt(copy, ["service", "telemetry"]);
  if (!isPlainMap(telemetry) || !Object.hasOwn(telemetry, "resource")) return copy;
  const kept: Record<string, unknown> = {};
  for (const key of ["schema_url", "detectors"]) {
    const value = valueAt(telemetry, ["resource", key]);
    if (value !== undefined && value !== null) setOwn(kept, key, value);
  }
  if (Object.keys(kept).length > 0) setOwn(telemetry, "resource", kept);
  else delete telemetry.resource;
  return copy;
}
