/**
 * Checks one collector config file body (a remote config_map entry or a local file) before it
 * can reach the disk or the collector. Failures are values, not exceptions: they become
 * FAILED remote-config statuses with the message as the reason.
 */
import { parseDocument } from "yaml";
import { describe, isPlainMap } from "./check.js";

/** Default cap on one config body. */
export const DEFAULT_MAX_CONFIG_BYTES = 4 * 1024 * 1024;
/** Alias resolutions allowed in one collector config body (the yaml library's own default). */
export const CONFIG_BODY_MAX_ALIAS_COUNT = 100;
const MAX_NAME_BYTES = 255;

/** A parsed collector config: a YAML/JSON map at the top level. */
export type CollectorConfig = Record<string, unknown>;

export type ParseBodyResult = { ok: true; config: CollectorConfig } | { ok: false; error: string };

export interface ParseBodyOptions {
  /** Larger bodies are rejected. Default DEFAULT_MAX_CONFIG_BYTES. */
  maxBytes?: number;
  /**
   * Accept the empty name. OpAMP allows a single unnamed ("") entry in a config map; it is
   * rejected unless the caller opts in (and then must not use the name as a file name).
   */
  allowEmptyName?: boolean;
}

/** Null when `name` is a plain file name; otherwise why it is not. */
export function checkConfigFileName(name: string, options: { allowEmptyName?: boolean } = {}): string | null {
  if (name === "") return options.allowEmptyName ? null : "the name is empty (expected a plain file name)";
  if (name === "." || name === "..") return `${JSON.stringify(name)} is not a file name`;
  if (name.includes("\0")) return "the name contains a NUL byte";
  if (name.includes("/") || name.includes("\\")) {
    return `${JSON.stringify(name)} contains a path separator (expected a plain file name)`;
  }
  if (/^[A-Za-z]:/.test(name)) return `${JSON.stringify(name)} looks like an absolute (drive) path`;
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused here
  if (/[\u0000-\u001f\u007f]/.test(name)) return `${JSON.stringify(name)} contains control characters`;
  if (Buffer.byteLength(name, "utf8") > MAX_NAME_BYTES) return `the name is longer than ${MAX_NAME_BYTES} bytes`;
  return null;
}

/** Validates the name, size, encoding and syntax of one config body; returns the parsed map. */
export function parseConfigBody(
  name: string,
  body: Uint8Array | string,
  options: ParseBodyOptions = {},
): ParseBodyResult {
  const nameProblem = checkConfigFileName(name, options);
  if (nameProblem !== null) return { ok: false, error: `invalid config file name: ${nameProblem}` };
  const label = `config file ${JSON.stringify(name)}`;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_CONFIG_BYTES;
  const size = typeof body === "string" ? Buffer.byteLength(body, "utf8") : body.byteLength;
  if (size > maxBytes) {
    return { ok: false, error: `${label} is ${size} bytes, more than the ${maxBytes}-byte limit` };
  }
  let text: string;
  if (typeof body === "string") {
    text = body;
  } else {
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(body);
    } catch {
      return { ok: false, error: `${label} is not valid UTF-8 text` };
    }
  }
  const parsed = parseConfigText(text);
  return parsed.ok ? parsed : { ok: false, error: `${label}: ${parsed.error}` };
}

/** Parses YAML or JSON text into a top-level map. An empty document is an empty map. */
export function parseConfigText(text: string): ParseBodyResult {
  const trimmed = text.trimStart();
  if (trimmed.startsWith("{")) {
    try {
      return checkTopLevel(JSON.parse(text) as unknown);
    } catch {
      // Not JSON; YAML flow syntax ({a: 1}) is still possible.
    }
  }
  const doc = parseDocument(text, { merge: true, prettyErrors: true, logLevel: "error" });
  const first = doc.errors[0];
  if (first !== undefined) {
    const line = (first.message.split("\n")[0] ?? first.message).replace(/:$/, "");
    return { ok: false, error: `invalid YAML/JSON: ${line}` };
  }
  if (doc.contents === null) return { ok: true, config: {} };
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: CONFIG_BODY_MAX_ALIAS_COUNT });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return { ok: false, error: `invalid YAML: ${reason} (too many alias references)` };
  }
  // An anchor used inside itself (`a: &a [*a]`) is a cycle: merging or writing it would
  // recurse forever. go-yaml refuses it too ("anchor 'a' value contains itself").
  if (containsItself(value)) return { ok: false, error: "invalid YAML: an anchor's value contains an alias to itself" };
  return checkTopLevel(value);
}

/** Whether `value` reaches one of its own ancestors (only aliases can make such a cycle). */
function containsItself(value: unknown, ancestors = new Set<object>()): boolean {
  if (value === null || typeof value !== "object") return false;
  if (ancestors.has(value)) return true;
  ancestors.add(value);
  const children = Array.isArray(value) ? value : value instanceof Map ? [...value.values()] : Object.values(value);
  const found = children.some((child) => containsItself(child, ancestors));
  ancestors.delete(value);
  return found;
}

function checkTopLevel(value: unknown): ParseBodyResult {
  if (!isPlainMap(value)) {
    return { ok: false, error: `expected a map at the top level, got ${describe(value)}` };
  }
  return { ok: true, config: value };
}

/** A remote config_map entry after its one check and parse. */
export interface ParsedRemoteFile {
  readonly name: string;
  readonly config: CollectorConfig;
}

/**
 * Checks and parses every entry of a remote config map once, with the one size cap; the
 * result goes to composition as parsed maps. The unnamed ("") entry OpAMP allows is accepted.
 */
export function parseRemoteFiles(
  files: ReadonlyArray<{ name: string; body: Uint8Array | string }>,
  options: { maxBytes?: number } = {},
): { ok: true; files: ParsedRemoteFile[] } | { ok: false; error: string } {
  const parsed: ParsedRemoteFile[] = [];
  for (const file of files) {
    const result = parseConfigBody(file.name, file.body, { allowEmptyName: true, ...options });
    if (!result.ok) return result;
    parsed.push({ name: file.name, config: result.config });
  }
  return { ok: true, files: parsed };
}
