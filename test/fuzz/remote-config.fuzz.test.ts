/**
 * Random remote config bodies and config_map keys through the checks a pushed config meets
 * first (name, size, UTF-8, YAML/JSON, top-level map) and then composition with local files
 * and the injected health_check. A body is accepted or refused as a value with a reason; a
 * composition either works, and its YAML reads back as the same config, or throws a
 * ConfigError. Nothing else escapes.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkConfigFileName, composeCollectorConfig, parseConfigBody } from "../../src/config/compose.js";
import { parseConfigText } from "../../src/config/body.js";
import { REMOTE_CONFIG_TOKEN } from "../../src/config/schema.js";
import { TIMEOUT_MS, check, expectTypedRejection, scale } from "./budget.js";
import { configBody, configMapKey } from "./frames.js";

/** Collector-config-shaped documents with hostile corners: prototype keys, anchors, merge keys, odd scalars. */
const key = fc.oneof(
  fc.constantFrom(
    "receivers",
    "exporters",
    "extensions",
    "service",
    "health_check",
    "pipelines",
    "__proto__",
    "constructor",
    "<<",
    "",
    "a.b",
    "health_check/x",
  ),
  fc.string({ maxLength: 8 }),
);
const leaf = fc.oneof(
  fc.string({ maxLength: 16 }),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom("0.0.0.0:13133", ":0", "[::]:1", "${env:X}", "2001-12-14", "0o17", "1e400", ".nan", "~"),
);
const tree: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  node: fc.oneof(
    { depthSize: "small" },
    leaf,
    fc.array(tie("node"), { maxLength: 3 }),
    fc.dictionary(key, tie("node"), { maxKeys: 4 }),
  ),
})).node;
const yamlSnippets = fc.constantFrom(
  "extensions: {health_check: {endpoint: 0.0.0.0:1}}\nservice: {extensions: [health_check]}\n",
  "extensions: {health_check: {use_v2: true, http: {endpoint: '[::]:2', status: {path: /s}}}}\n",
  "extensions: [1]\n",
  "service: {extensions: {a: 1}}\n",
  "service: []\n",
  "base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n",
  "a: &a [*a]\n",
  "a: !!binary aGk=\n",
  "? [complex]\n: key\n",
  "__proto__: {polluted: true}\n",
  '{"__proto__": {"polluted": true}}',
);
const body = fc.oneof(
  configBody,
  yamlSnippets,
  tree.map((t) => JSON.stringify(t) ?? "null"),
  fc.uint8Array({ maxLength: 80 }),
);
const input = fc.record({
  remote: fc.array(fc.record({ name: configMapKey, body }), { maxLength: 3 }),
  local: fc.array(fc.oneof(yamlSnippets, configBody), { maxLength: 2 }),
  remoteFirst: fc.boolean(),
  inject: fc.boolean(),
  maxBytes: fc.oneof(fc.constant(undefined), fc.integer({ min: 0, max: 64 })),
});

describe("fuzz: remote config bodies and config_map keys", () => {
  it(
    "bodies are accepted or refused as values; composition yields re-readable YAML or a ConfigError",
    () => {
      const outcomes = { refused: 0, composed: 0, composeRefused: 0 };
      check("remote config", input, scale(600), ({ remote, local, remoteFirst, inject, maxBytes }) => {
        const checked = remote.map((file) => {
          const nameProblem = checkConfigFileName(file.name, { allowEmptyName: true });
          const result = parseConfigBody(file.name, file.body, {
            allowEmptyName: true,
            ...(maxBytes !== undefined ? { maxBytes } : {}),
          });
          if (nameProblem !== null) expect(result.ok).toBe(false);
          if (!result.ok) expect(result.error.length).toBeGreaterThan(0);
          return result;
        });
        if (checked.some((r) => !r.ok)) {
          outcomes.refused++;
          return;
        }
        const localFiles = local.map((content, i) => ({ name: `local-${i}.yaml`, content }));
        const names = localFiles.map((f) => f.name);
        try {
          const composed = composeCollectorConfig({
            localFiles,
            order: remoteFirst ? [REMOTE_CONFIG_TOKEN, ...names] : [...names, REMOTE_CONFIG_TOKEN],
            remote,
            injected: { health: inject ? { endpoint: "127.0.0.1:13133", path: "/" } : undefined },
          });
          outcomes.composed++;
          // What the collector will read is what was composed.
          const reread = parseConfigText(composed.yaml);
          expect(reread.ok).toBe(true);
          if (reread.ok) expect(reread.config).toEqual(composed.config);
          if (inject && composed.health?.source === "injected") expect(composed.yaml).toContain("health_check");
        } catch (err) {
          expectTypedRejection(err, ["CONFIG_INVALID"]);
          outcomes.composeRefused++;
        }
      });
      expect(outcomes.composed).toBeGreaterThan(0);
      expect(outcomes.refused).toBeGreaterThan(0);
    },
    TIMEOUT_MS,
  );
});
