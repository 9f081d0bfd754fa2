/**
 * Random supervisor.yaml documents: the example's keys with random values (durations, numbers,
 * ${VAR} references, lists where maps belong, nulls, huge and odd strings), unknown keys, and
 * the example's text cut and garbled. The loader either returns a config or throws a
 * ConfigError (CONFIG_INVALID) that names the file; nothing else escapes.
 */
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { parse, stringify } from "yaml";
import { describe, expect, it } from "vitest";
import { resolveSupervisorConfig } from "../../src/config/load.js";
import { ConfigError } from "../../src/errors.js";
import { TIMEOUT_MS, check, expectTypedRejection, scale } from "./budget.js";

const CONFIG_PATH = "/etc/otelcol/supervisor.yaml";
const EXAMPLE_TEXT = readFileSync(new URL("../../examples/supervisor.yaml", import.meta.url), "utf8");
const EXAMPLE = parse(EXAMPLE_TEXT) as Record<string, unknown>;

/** Every key path of the example (maps only), e.g. ["agent", "health", "interval"]. */
function keyPaths(value: unknown, prefix: string[] = []): string[][] {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return [prefix];
  const children = Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => keyPaths(v, [...prefix, k]));
  return prefix.length > 0 ? [prefix, ...children] : children;
}
const PATHS = keyPaths(EXAMPLE);

const scalar: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    "",
    "0",
    "-1",
    "1s",
    "250ms",
    "1h30m",
    "10x",
    "1e9s",
    "999999999999h",
    "NaN",
    "Infinity",
    "0x10",
    "${HOME}",
    "${env:X}",
    "${UNSET}",
    "${",
    "$${X}",
    "${X:-d}",
    "ws://127.0.0.1:1/v1/opamp",
    "https://[::1]:0/x",
    "wss://",
    "127.0.0.1:13133",
    "localhost",
    ":0",
    "/etc/passwd",
    "../x",
    "1.2",
    "1.3",
    "debug",
    "true",
    "yes",
  ),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.string({ maxLength: 30 }),
  fc.string({ unit: "binary", maxLength: 30 }),
);
const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    scalar,
    fc.array(tie("v"), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 10 }), tie("v"), { maxKeys: 3 }),
  ),
})).v;

/** The example with some of its keys given random values, some removed, some unknown ones added. */
const structured = fc
  .record({
    changes: fc.array(fc.tuple(fc.constantFrom(...PATHS), fc.oneof(value, fc.constant(undefined))), {
      minLength: 1,
      maxLength: 6,
    }),
    extra: fc.array(fc.tuple(fc.constantFrom(...PATHS), fc.string({ maxLength: 12 }), value), { maxLength: 2 }),
  })
  .map(({ changes, extra }) => {
    const doc = structuredClone(EXAMPLE);
    const set = (path: string[], v: unknown): void => {
      let node = doc;
      for (const key of path.slice(0, -1)) {
        const next = node[key];
        if (next === null || typeof next !== "object" || Array.isArray(next)) node[key] = {};
        node = node[key] as Record<string, unknown>;
      }
      const last = path[path.length - 1] as string;
      if (v === undefined) delete node[last];
      else node[last] = v;
    };
    for (const [path, v] of changes) set(path, v);
    for (const [path, key, v] of extra) set([...path.slice(0, -1), key], v);
    return stringify(doc);
  });

/** The example's text truncated, with bytes replaced, or with YAML syntax spliced in. */
const garbled = fc
  .record({
    at: fc.nat(),
    cut: fc.boolean(),
    insert: fc.constantFrom(
      "",
      ":",
      "- ",
      "\t",
      "&a ",
      "*a",
      "*b",
      "!!binary ",
      "{",
      "[",
      "'",
      '"',
      "\0",
      "\n  ",
      "<<: *a\n",
      "? ",
      "%YAML 1.1\n",
      "---\n",
      "${",
      "\u2028",
    ),
  })
  .map(({ at, cut, insert }) => {
    const i = at % (EXAMPLE_TEXT.length + 1);
    return (
      (cut ? EXAMPLE_TEXT.slice(0, i) : EXAMPLE_TEXT.slice(0, i) + insert + EXAMPLE_TEXT.slice(i)) + (cut ? insert : "")
    );
  });

const env = fc.dictionary(fc.constantFrom("HOME", "X", "SECRET", "EMPTY"), fc.string({ maxLength: 20 }), {
  maxKeys: 4,
});

describe("fuzz: supervisor.yaml", () => {
  it(
    "random and garbled documents: a config or a ConfigError naming the file, nothing else",
    () => {
      const outcomes = { ok: 0, refused: 0 };
      check(
        "supervisor.yaml",
        fc.tuple(fc.oneof(structured, garbled, fc.string({ maxLength: 200 })), env),
        scale(200),
        ([text, vars]) => {
          try {
            resolveSupervisorConfig(text, CONFIG_PATH, vars);
            outcomes.ok++;
          } catch (err) {
            expectTypedRejection(err, ["CONFIG_INVALID"]);
            expect(err).toBeInstanceOf(ConfigError);
            expect((err as ConfigError).message.startsWith(CONFIG_PATH)).toBe(true);
            expect((err as ConfigError).problems.length).toBeGreaterThan(0);
            outcomes.refused++;
          }
        },
      );
      expect(outcomes.refused).toBeGreaterThan(0);
      expect(outcomes.ok).toBeGreaterThan(0);
    },
    TIMEOUT_MS,
  );
});
