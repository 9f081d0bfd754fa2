/**
 * Inputs the fuzzers found that broke a rule, kept as fixed cases so they stay fixed.
 */
import { describe, expect, it } from "vitest";
import { parseConfigBody, parseConfigText } from "../../src/config/body.js";
import { composeCollectorConfig } from "../../src/config/compose.js";
import { REMOTE_CONFIG_TOKEN } from "../../src/config/schema.js";

describe("fuzz regressions", () => {
  it("an anchor that contains itself is refused with a reason, not a stack overflow in composition", () => {
    for (const body of ["a: &a [*a]\n", "a: &a {b: *a}\n", "receivers:\n  x: &r\n    y: [1, *r]\n"]) {
      const parsed = parseConfigBody("collector.yaml", body);
      expect(parsed).toEqual({
        ok: false,
        error: expect.stringMatching(/^config file "collector\.yaml": invalid YAML: .*alias to itself/),
      });
      // A local file with it is skipped with a warning naming the file (as an unusable local file is), not a RangeError.
      const composed = composeCollectorConfig({
        localFiles: [{ name: "local.yaml", content: body }],
        order: ["local.yaml"],
        remote: [],
        injected: {},
      });
      expect(composed.warnings.join("\n")).toMatch(/local\.yaml is skipped: .*alias to itself/);
    }
    // Shared (non-recursive) aliases are fine.
    expect(parseConfigText("a: &a [1]\nb: *a\nc: *a\n")).toEqual({ ok: true, config: { a: [1], b: [1], c: [1] } });
  });

  it('a literal "<<" key (from a JSON body) is written so the collector reads a key, not a merge', () => {
    const composed = composeCollectorConfig({
      localFiles: [],
      order: [REMOTE_CONFIG_TOKEN],
      remote: [{ name: "c.json", body: '{"<<": [], "processors": {"<<": {"x": 1}}}' }],
      injected: {},
    });
    expect(composed.config).toEqual({ "<<": [], processors: { "<<": { x: 1 } } });
    expect(parseConfigText(composed.yaml)).toEqual({ ok: true, config: composed.config });
    // A real YAML merge key in a body is still merged when parsed.
    expect(parseConfigText("base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n")).toEqual({
      ok: true,
      config: { base: { x: 1 }, other: { x: 1, y: 2 } },
    });
  });
});
