import { describe, expect, it } from "vitest";
import { checkConfigFileName, parseConfigBody } from "../../src/config/compose.js";

const yaml = "receivers:\n  otlp: {}\n";

describe("parseConfigBody: names", () => {
  it.each([
    ["", "the name is empty"],
    [".", '"." is not a file name'],
    ["..", '".." is not a file name'],
    ["a/b.yaml", "contains a path separator"],
    ["../x.yaml", "contains a path separator"],
    ["/etc/passwd", "contains a path separator"],
    ["a\\b.yaml", "contains a path separator"],
    ["C:x.yaml", "absolute (drive) path"],
    ["a\0.yaml", "NUL byte"],
    ["a\nb.yaml", "control characters"],
    ["x".repeat(256), "longer than 255 bytes"],
  ])("rejects %j", (name, reason) => {
    const result = parseConfigBody(name, yaml);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.startsWith("invalid config file name: ")).toBe(true);
      expect(result.error).toContain(reason);
    }
  });

  it("accepts plain names, including dots inside and unicode", () => {
    for (const name of ["collector.yaml", "a..b", ".hidden", "config", "conf-ü.yaml", "x".repeat(255)]) {
      expect(checkConfigFileName(name)).toBeNull();
    }
  });

  it("accepts the unnamed entry only when asked", () => {
    expect(parseConfigBody("", yaml, { allowEmptyName: true })).toEqual({
      ok: true,
      config: { receivers: { otlp: {} } },
    });
  });
});

describe("parseConfigBody: bodies", () => {
  it("accepts YAML as a string or bytes", () => {
    const expected = { ok: true, config: { receivers: { otlp: {} } } };
    expect(parseConfigBody("c.yaml", yaml)).toEqual(expected);
    expect(parseConfigBody("c.yaml", new TextEncoder().encode(yaml))).toEqual(expected);
  });

  it("accepts JSON", () => {
    const json = JSON.stringify({ receivers: { otlp: { protocols: { grpc: null } } }, service: { extensions: [] } });
    expect(parseConfigBody("c.json", json)).toEqual({
      ok: true,
      config: { receivers: { otlp: { protocols: { grpc: null } } }, service: { extensions: [] } },
    });
  });

  it("accepts an empty document as an empty map", () => {
    expect(parseConfigBody("c.yaml", "")).toEqual({ ok: true, config: {} });
    expect(parseConfigBody("c.yaml", "# nothing\n")).toEqual({ ok: true, config: {} });
  });

  it("rejects bodies over the cap, counting bytes", () => {
    const body = "k: é\n"; // 6 bytes
    expect(parseConfigBody("c.yaml", body, { maxBytes: 6 }).ok).toBe(true);
    expect(parseConfigBody("c.yaml", body, { maxBytes: 5 })).toEqual({
      ok: false,
      error: 'config file "c.yaml" is 6 bytes, more than the 5-byte limit',
    });
    expect(parseConfigBody("c.yaml", new Uint8Array(11), { maxBytes: 10 }).ok).toBe(false);
  });

  it("rejects invalid UTF-8", () => {
    expect(parseConfigBody("c.yaml", new Uint8Array([0x61, 0x3a, 0x20, 0xff]))).toEqual({
      ok: false,
      error: 'config file "c.yaml" is not valid UTF-8 text',
    });
  });

  it.each([
    ["unclosed flow", "a: [1, 2\n"],
    ["bad JSON", '{"a": 1,,}'],
    ["duplicate keys", "a: 1\na: 2\n"],
    ["several documents", "a: 1\n---\nb: 2\n"],
    ["bad indentation", "a:\n  b: 1\n c: 2\n"],
  ])("rejects invalid YAML/JSON: %s", (_, body) => {
    const result = parseConfigBody("c.yaml", body);
    expect(result).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^config file "c\.yaml": invalid YAML\/JSON: /),
    });
  });

  it("rejects YAML alias bombs", () => {
    const levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i);
      const name = String.fromCharCode(97 + i);
      levels.push(`${name}: &${name} [${Array(10).fill(`*${prev}`).join(", ")}]`);
    }
    const result = parseConfigBody("bomb.yaml", levels.join("\n"));
    expect(result).toMatchObject({
      ok: false,
      error: expect.stringMatching(
        /^config file "bomb\.yaml": invalid YAML: Excessive alias count.*too many alias references/,
      ),
    });
  });

  it("allows ordinary anchors", () => {
    const body = "p: &p [batch]\nservice: {pipelines: {a: {processors: *p}, b: {processors: *p}}}\n";
    expect(parseConfigBody("c.yaml", body)).toMatchObject({
      ok: true,
      config: { service: { pipelines: { b: { processors: ["batch"] } } } },
    });
  });

  it.each([
    ["a list", "- a\n- b\n"],
    ['string "hello"', "hello\n"],
    ["number 42", "42"],
    ["nothing (null)", "null\n"],
    ["a list", "[1, 2]"],
  ])("rejects a top level that is %s", (seen, body) => {
    expect(parseConfigBody("c.yaml", body)).toEqual({
      ok: false,
      error: `config file "c.yaml": expected a map at the top level, got ${seen}`,
    });
  });

  it("never throws", () => {
    for (const body of ["\t\ta", "{", "]]]", "a: !!binary x", "? [a]\n: b\n", "%YAML 9.9\n---\na: 1\n"]) {
      expect(() => parseConfigBody("c.yaml", body)).not.toThrow();
    }
  });
});
