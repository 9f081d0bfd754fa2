/**
 * Small typed readers for a parsed YAML tree. Each reader returns a usable value (the default
 * when the input is absent or wrong) and records a problem naming the key path, what was
 * expected and what was seen, so one pass reports every mistake in the file.
 */
import { parseDuration } from "./duration.js";

export type KeyPath = readonly (string | number)[];

/** Marks a value whose ${VAR} expansion failed; readers skip it (the problem is already recorded). */
export const EXPANSION_FAILED: unique symbol = Symbol("expansion failed");

/** The advice for official Go supervisor keys this supervisor does not implement. */
export const UNSUPPORTED = "is an official Go supervisor key that this supervisor does not support; remove it";

/** Renders `agent.args[0]`, `server.headers["X.Y"]`. */
export function formatPath(path: KeyPath): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(part)) out += out === "" ? part : `.${part}`;
    else out += `[${JSON.stringify(part)}]`;
  }
  return out === "" ? "(top level)" : out;
}

/** Identifies a path in maps keyed by path. */
export function pathKey(path: KeyPath): string {
  return JSON.stringify(path);
}

/** What was seen, for messages. Values are shown (strings truncated) unless `secret`. */
export function describe(value: unknown, secret = false): string {
  if (value === null || value === undefined) return "nothing (null)";
  if (Array.isArray(value)) return "a list";
  if (secret) return typeof value === "object" ? "a map" : `a ${typeof value}`;
  if (typeof value === "string") {
    const shown = value.length > 60 ? `${value.slice(0, 57)}...` : value;
    return `string ${JSON.stringify(shown)}`;
  }
  if (typeof value === "number" || typeof value === "boolean") return `${typeof value} ${value}`;
  if (typeof value === "object") return "a map";
  return typeof value;
}

export function isPlainMap(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur.push(Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

/** Sets an own enumerable property, safe for keys such as "__proto__". */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

export interface NumberRule {
  min?: number;
  max?: number;
  integer?: boolean;
}

export class Checker {
  readonly problems: string[] = [];
  /** Accepted but without effect here (yet): one line per key, logged at start and by validate. */
  readonly warnings: string[] = [];

  /** `rawStrings`: the text of scalars that ${VAR} expansion turned into numbers/booleans. */
  constructor(private readonly rawStrings: ReadonlyMap<string, string> = new Map()) {}

  report(path: KeyPath, message: string): void {
    this.problems.push(`${formatPath(path)}: ${message}`);
  }

  warn(path: KeyPath, message: string): void {
    this.warnings.push(`${formatPath(path)}: ${message}`);
  }

  private expect(path: KeyPath, expected: string, value: unknown, secret = false): void {
    this.report(path, `expected ${expected}, got ${describe(value, secret)}`);
  }

  /**
   * A map section. Absent or null reads as empty. Keys outside `allowed` are reported, with
   * `hints` (key -> advice) for keys users bring from elsewhere, else a "did you mean".
   */
  section(
    path: KeyPath,
    value: unknown,
    allowed: readonly string[],
    hints: Readonly<Record<string, string>> = {},
  ): Record<string, unknown> {
    if (value === undefined || value === null || value === EXPANSION_FAILED) return {};
    if (!isPlainMap(value)) {
      this.expect(path, "a map", value);
      return {};
    }
    for (const key of Object.keys(value)) {
      if (allowed.includes(key)) continue;
      const hint = Object.hasOwn(hints, key) ? hints[key] : undefined;
      if (hint !== undefined) {
        this.report([...path, key], hint);
        continue;
      }
      const close = allowed.find((candidate) => editDistance(candidate, key) <= 2);
      const advice = close ? `did you mean "${close}"?` : `expected one of: ${allowed.join(", ")}`;
      this.report([...path, key], `unknown key (${advice})`);
    }
    return value;
  }

  /**
   * A string. Absence yields `fallback`, or a problem when `required`. Null counts as absence
   * when `nullIsAbsent` (an optional key written with no value), else it is a wrong type.
   */
  string<T extends string | null>(
    path: KeyPath,
    value: unknown,
    fallback: T,
    options: { required?: boolean; nonEmpty?: boolean; secret?: boolean; nullIsAbsent?: boolean } = {},
  ): string | T {
    if (value === EXPANSION_FAILED) return fallback;
    if (value === undefined || (value === null && (options.required || options.nullIsAbsent))) {
      if (options.required) this.report(path, "is required (expected a string)");
      return fallback;
    }
    const text = typeof value === "string" ? value : this.rawStrings.get(pathKey(path));
    if (text === undefined) {
      const quote = typeof value === "number" || typeof value === "boolean";
      this.report(
        path,
        `expected a string, got ${describe(value, options.secret)}${quote ? " (quote the value to make it a string)" : ""}`,
      );
      return fallback;
    }
    if (options.nonEmpty && text.trim() === "") {
      this.report(path, "must not be empty");
      return fallback;
    }
    return text;
  }

  boolean(path: KeyPath, value: unknown, fallback: boolean): boolean {
    if (value === undefined || value === EXPANSION_FAILED) return fallback;
    if (typeof value === "boolean") return value;
    this.expect(path, "true or false", value);
    return fallback;
  }

  number(path: KeyPath, value: unknown, fallback: number, rule: NumberRule = {}): number {
    if (value === undefined || value === EXPANSION_FAILED) return fallback;
    const kind = rule.integer ? "an integer" : "a number";
    if (typeof value !== "number" || !Number.isFinite(value) || (rule.integer && !Number.isInteger(value))) {
      this.expect(path, this.rangeText(kind, rule), value);
      return fallback;
    }
    if ((rule.min !== undefined && value < rule.min) || (rule.max !== undefined && value > rule.max)) {
      this.expect(path, this.rangeText(kind, rule), value);
      return fallback;
    }
    return value;
  }

  private rangeText(kind: string, rule: NumberRule): string {
    if (rule.min !== undefined && rule.max !== undefined) return `${kind} from ${rule.min} to ${rule.max}`;
    if (rule.min !== undefined) return `${kind} ≥ ${rule.min}`;
    if (rule.max !== undefined) return `${kind} ≤ ${rule.max}`;
    return kind;
  }

  /** A duration in milliseconds; `positive` rejects zero; `maxMs` overrides the timer-safe cap. */
  duration(
    path: KeyPath,
    value: unknown,
    fallback: number,
    options: { positive?: boolean; maxMs?: number } = {},
  ): number {
    if (value === undefined || value === EXPANSION_FAILED) return fallback;
    const parsed = options.maxMs === undefined ? parseDuration(value) : parseDuration(value, options.maxMs);
    if (!parsed.ok) {
      this.report(path, `${parsed.error}; got ${describe(value)}`);
      return fallback;
    }
    if (options.positive && parsed.ms === 0) {
      this.report(path, `expected a duration greater than 0, got ${describe(value)}`);
      return fallback;
    }
    return parsed.ms;
  }

  oneOf<T extends string>(path: KeyPath, value: unknown, fallback: T, options: readonly T[]): T {
    if (value === undefined || value === EXPANSION_FAILED) return fallback;
    const text = typeof value === "string" ? value : this.rawStrings.get(pathKey(path));
    const found = options.find((option) => option === text);
    if (found !== undefined) return found;
    this.expect(path, `one of ${options.map((o) => JSON.stringify(o)).join(", ")}`, value);
    return fallback;
  }

  /** A list of strings; absent or null reads as empty. */
  stringList(path: KeyPath, value: unknown, options: { nonEmptyItems?: boolean; secret?: boolean } = {}): string[] {
    if (value === undefined || value === null || value === EXPANSION_FAILED) return [];
    if (!Array.isArray(value)) {
      this.expect(path, "a list of strings", value);
      return [];
    }
    const out: string[] = [];
    value.forEach((item, index) => {
      const text = this.string([...path, index], item, null, {
        nonEmpty: options.nonEmptyItems ?? false,
        secret: options.secret ?? false,
      });
      if (text !== null) out.push(text);
    });
    return out;
  }

  /**
   * A map of string to string; absent or null reads as empty. `checkKey` returns a problem
   * text for a bad key. Values of `secret` maps are never echoed.
   */
  stringMap(
    path: KeyPath,
    value: unknown,
    options: { secret?: boolean; checkKey?: (key: string) => string | null } = {},
  ): Record<string, string> {
    const out: Record<string, string> = {};
    if (value === undefined || value === null || value === EXPANSION_FAILED) return out;
    if (!isPlainMap(value)) {
      this.expect(path, "a map of string to string", value);
      return out;
    }
    for (const [key, item] of Object.entries(value)) {
      const keyProblem = options.checkKey?.(key) ?? null;
      if (keyProblem !== null) {
        this.report([...path, key], keyProblem);
        continue;
      }
      const text = this.string([...path, key], item, null, { secret: options.secret ?? false });
      if (text === null) continue;
      setOwn(out, key, text);
    }
    return out;
  }
}
