/**
 * ${VAR} / ${env:VAR} / ${file:path} expansion in the string values of a parsed YAML
 * document, following the collector's confmap rules that users know: `$$` is a literal `$`,
 * any other `$` is left as is (so `$REMOTE_CONFIG` survives), `${env:VAR:-default}` supplies
 * a default. An unset variable or unreadable file is an error naming the key path.
 *
 * Like confmap, a plain (unquoted) scalar that is exactly one reference takes the type its
 * value spells (`window: ${N}` with N=10 is the number 10); the expanded text is kept in
 * `rawStrings` so a key that expects a string still gets "10". A file's content is YAML, as
 * confmap's file provider reads it: a whole-value `${file:...}` may bring a map or a list;
 * inside a longer string it must hold one value (a token file's trailing newline goes).
 * Relative file paths resolve against supervisor.yaml's directory, like its other paths.
 */
import * as nodePath from "node:path";
import { isPair, isScalar, isSeq, parse, visit, type Document, type Scalar } from "yaml";
import { EXPANSION_FAILED, pathKey, type KeyPath } from "./check.js";

export type Env = Readonly<Record<string, string | undefined>>;

export type ExpandResult = { ok: true; value: string } | { ok: false; error: string };

/** Where ${file:path} reads from; without one, file references are an error. */
export interface FileSource {
  /** Relative paths resolve against this directory. */
  readonly baseDir: string;
  /** Reads a file as UTF-8; throws a Node error (with a code) when it cannot. */
  read(absolutePath: string): string;
}

const REFERENCE = /^(?:env:)?([A-Za-z_][A-Za-z0-9_]*)(?::-([^]*))?$/;
const OTHER_SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;
const FILE_REFERENCE = /^\$\{file:([^}]+)\}$/;
/** Alias cap for file contents, as for supervisor.yaml itself. */
const FILE_MAX_ALIAS_COUNT = 50;

/** Expands every reference in `text`. */
export function expandString(text: string, env: Env, files?: FileSource): ExpandResult {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const ch = text.charAt(i);
    if (ch !== "$") {
      out += ch;
      i += 1;
      continue;
    }
    const next = text[i + 1];
    if (next === "$") {
      out += "$";
      i += 2;
      continue;
    }
    if (next !== "{") {
      out += "$";
      i += 1;
      continue;
    }
    const close = text.indexOf("}", i + 2);
    if (close < 0) return { ok: false, error: 'unterminated "${" (write "$$" for a literal "$")' };
    const inner = text.slice(i + 2, close);
    const resolved = inner.startsWith("file:") ? fileText(inner, files) : resolveReference(inner, env);
    if (!resolved.ok) return resolved;
    out += resolved.value;
    i = close + 1;
  }
  return { ok: true, value: out };
}

function resolveReference(inner: string, env: Env): ExpandResult {
  const match = REFERENCE.exec(inner);
  if (match) {
    const name = match[1] ?? "";
    const fallback = match[2];
    const value = Object.hasOwn(env, name) ? env[name] : undefined;
    if (value !== undefined) return { ok: true, value };
    if (fallback !== undefined) return { ok: true, value: fallback };
    return {
      ok: false,
      error: `environment variable ${name} is not set (referenced as "\${${inner}}"; use "\${env:${name}:-default}" for a default)`,
    };
  }
  const scheme = OTHER_SCHEME.exec(inner);
  if (scheme && scheme[1] !== "env") {
    return { ok: false, error: `unsupported reference "\${${inner}}": only the env and file providers are supported` };
  }
  return {
    ok: false,
    error: `invalid reference "\${${inner}}" (expected \${NAME} or \${env:NAME} with NAME made of letters, digits and _)`,
  };
}

type FileValue = { ok: true; value: unknown; raw: string } | { ok: false; error: string };

/** The file's content read as YAML (content that is not YAML stays the raw text, as in confmap). */
function readFileValue(inner: string, files: FileSource | undefined): FileValue {
  const reference = `\${${inner}}`;
  if (files === undefined)
    return { ok: false, error: `unsupported reference "${reference}": files cannot be read here` };
  const target = nodePath.resolve(files.baseDir, inner.slice("file:".length));
  let raw: string;
  try {
    raw = files.read(target);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    return { ok: false, error: `cannot read ${target} (referenced as "${reference}"): ${code}` };
  }
  try {
    return { ok: true, value: parse(raw, { maxAliasCount: FILE_MAX_ALIAS_COUNT }) as unknown, raw };
  } catch {
    return { ok: true, value: raw, raw };
  }
}

/** A file reference inside a longer string: its one value as text. */
function fileText(inner: string, files: FileSource | undefined): ExpandResult {
  const read = readFileValue(inner, files);
  if (!read.ok) return read;
  const { value, raw } = read;
  if (value === null || value === undefined) return { ok: true, value: "" };
  if (typeof value === "string") return { ok: true, value };
  if (typeof value === "number" || typeof value === "boolean") return { ok: true, value: raw.trim() };
  return { ok: false, error: `\${${inner}} holds a map or a list; only a whole value can take it` };
}

const TYPED_BOOLEAN = /^(?:true|True|TRUE|false|False|FALSE)$/;
const TYPED_NUMBER = /^[-+]?(?:\d+|\d+\.\d*|\.\d+)(?:[eE][-+]?\d+)?$/;

function typedValue(text: string): string | number | boolean {
  if (TYPED_BOOLEAN.test(text)) return text.toLowerCase() === "true";
  if (TYPED_NUMBER.test(text)) {
    const number = Number(text);
    if (Number.isFinite(number)) return number;
  }
  return text;
}

export interface DocumentExpansion {
  problems: Array<{ path: KeyPath; message: string }>;
  /** pathKey(path) → expanded text, for scalars that became numbers or booleans. */
  rawStrings: Map<string, string>;
}

/** Expands string values (not keys) in place. A failed value becomes EXPANSION_FAILED. */
export function expandDocument(doc: Document, env: Env, files?: FileSource): DocumentExpansion {
  const result: DocumentExpansion = { problems: [], rawStrings: new Map() };
  visit(doc, {
    Scalar(key, node, ancestors) {
      if (key === "key" || typeof node.value !== "string" || !node.value.includes("$")) return;
      const path = pathOf(ancestors, node);
      const text = node.value;
      const whole = FILE_REFERENCE.exec(text);
      if (whole && node.type === "PLAIN") {
        const read = readFileValue(`file:${whole[1] ?? ""}`, files);
        if (!read.ok) {
          result.problems.push({ path, message: read.error });
          node.value = EXPANSION_FAILED;
          return;
        }
        if (typeof read.value === "object" && read.value !== null) return doc.createNode(read.value);
        if (typeof read.value === "number" || typeof read.value === "boolean")
          result.rawStrings.set(pathKey(path), read.raw.trim());
        node.value = read.value ?? null;
        return;
      }
      const expanded = expandString(text, env, files);
      if (!expanded.ok) {
        result.problems.push({ path, message: expanded.error });
        node.value = EXPANSION_FAILED;
        return;
      }
      const wholeReference = /^\$\{[^}]*\}$/.test(text);
      if (node.type === "PLAIN" && wholeReference) {
        const typed = typedValue(expanded.value);
        if (typeof typed !== "string") result.rawStrings.set(pathKey(path), expanded.value);
        node.value = typed;
      } else {
        node.value = expanded.value;
      }
      return undefined;
    },
  });
  return result;
}

/** Rebuilds the key path of `node` from visit()'s ancestor chain. */
function pathOf(ancestors: readonly unknown[], node: Scalar): KeyPath {
  const path: (string | number)[] = [];
  const chain = [...ancestors, node];
  chain.forEach((item, index) => {
    const child = chain[index + 1];
    if (isPair(item)) {
      const key = isScalar(item.key) ? item.key.value : item.key;
      path.push(String(key));
    } else if (isSeq(item) && child !== undefined) {
      path.push(item.items.indexOf(child));
    }
  });
  return path;
}
