import { describe, expect, it } from "vitest";
import { composeCollectorConfig, deepMerge, type ComposeInput } from "../../src/config/compose.js";
import { ConfigError } from "../../src/errors.js";

describe("deepMerge", () => {
  it("merges maps recursively and lets the later layer win on scalars", () => {
    const a = { receivers: { otlp: { protocols: { grpc: { endpoint: "a:1" } } } }, level: "info" };
    const b = { receivers: { otlp: { protocols: { http: {} } } }, level: "debug" };
    expect(deepMerge(a, b)).toEqual({
      receivers: { otlp: { protocols: { grpc: { endpoint: "a:1" }, http: {} } } },
      level: "debug",
    });
  });

  it("replaces lists instead of appending", () => {
    expect(deepMerge({ service: { extensions: ["a", "b"] } }, { service: { extensions: ["c"] } })).toEqual({
      service: { extensions: ["c"] },
    });
  });

  it("lets null and scalars replace maps, and maps replace scalars", () => {
    expect(deepMerge({ processors: { batch: {} }, x: 1 }, { processors: null, x: { y: 2 } })).toEqual({
      processors: null,
      x: { y: 2 },
    });
  });

  it("keeps the earlier layer's key order, then new keys in order", () => {
    const merged = deepMerge({ b: 1, a: { y: 1, x: 1 } }, { c: 1, a: { z: 1, x: 2 }, b: 2 });
    expect(Object.keys(merged)).toEqual(["b", "a", "c"]);
    expect(Object.keys(merged.a as object)).toEqual(["y", "x", "z"]);
  });

  it("neither modifies nor shares its inputs", () => {
    const a = { m: { list: [1] } };
    const b = { m: { other: { deep: true } } };
    const merged = deepMerge(a, b) as { m: { list: number[]; other: { deep: boolean } } };
    merged.m.list.push(2);
    merged.m.other.deep = false;
    expect(a).toEqual({ m: { list: [1] } });
    expect(b).toEqual({ m: { other: { deep: true } } });
  });

  it("treats __proto__ as an ordinary key", () => {
    const b = JSON.parse('{"__proto__": {"polluted": true}}') as Record<string, unknown>;
    const merged = deepMerge({}, b);
    expect(Object.keys(merged)).toEqual(["__proto__"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

const base = `
receivers:
  otlp: {protocols: {grpc: {}}}
exporters:
  debug: {}
service:
  pipelines:
    traces: {receivers: [otlp], exporters: [debug]}
`;
const overlay = "exporters:\n  debug: {verbosity: detailed}\n";

function compose(input: Partial<ComposeInput>) {
  return composeCollectorConfig({ localFiles: [], order: [], remote: [], injected: {}, ...input });
}

describe("composeCollectorConfig: order", () => {
  const localFiles = [
    { name: "/etc/base.yaml", content: base },
    { name: "/etc/overlay.yaml", content: overlay },
  ];
  const remote = [{ name: "r.yaml", body: "exporters:\n  debug: {verbosity: basic}\n" }];

  it("merges local files in order", () => {
    const { config } = compose({ localFiles, order: ["/etc/base.yaml", "/etc/overlay.yaml"] });
    expect(config.exporters).toEqual({ debug: { verbosity: "detailed" } });
    const reversed = compose({ localFiles, order: ["/etc/overlay.yaml", "/etc/base.yaml"] });
    expect(reversed.config.exporters).toEqual({ debug: { verbosity: "detailed" } });
    expect(Object.keys(reversed.config)).toEqual(["exporters", "receivers", "service"]);
  });

  it("puts remote files after the local files when $REMOTE_CONFIG is absent", () => {
    const { config } = compose({ localFiles, order: ["/etc/base.yaml", "/etc/overlay.yaml"], remote });
    expect(config.exporters).toEqual({ debug: { verbosity: "basic" } });
  });

  it("puts remote files where $REMOTE_CONFIG is", () => {
    const { config } = compose({
      localFiles,
      order: ["/etc/base.yaml", "$REMOTE_CONFIG", "/etc/overlay.yaml"],
      remote,
    });
    expect(config.exporters).toEqual({ debug: { verbosity: "detailed" } });
    const first = compose({
      localFiles,
      order: ["$REMOTE_CONFIG", "/etc/base.yaml"],
      remote: [{ name: "r", body: "z: 1\n" }],
    });
    expect(Object.keys(first.config)).toEqual(["z", "receivers", "exporters", "service"]);
  });

  it("accepts $OWN_TELEMETRY_CONFIG and $OPAMP_EXTENSION_CONFIG, which add nothing yet", () => {
    const plain = compose({ localFiles, order: ["/etc/base.yaml"] });
    const tokens = compose({
      localFiles,
      order: ["$OWN_TELEMETRY_CONFIG", "/etc/base.yaml", "$OPAMP_EXTENSION_CONFIG"],
    });
    expect(tokens.yaml).toBe(plain.yaml);
  });

  it("merges remote files sorted by name whatever order they arrive in, the unnamed one last", () => {
    const files = [
      { name: "b.yaml", body: "k: b\nb: 1\n" },
      { name: "", body: "k: unnamed\n" },
      { name: "a.yaml", body: "k: a\na: 1\n" },
      { name: "B.yaml", body: "k: B\n" },
    ];
    const one = compose({ remote: files });
    const two = compose({ remote: [...files].reverse() });
    expect(one.yaml).toBe(two.yaml);
    expect(one.config).toEqual({ k: "unnamed", b: 1, a: 1 });
    expect(Object.keys(one.config)).toEqual(["k", "a", "b"]);
  });

  it("produces deterministic YAML that parses back to the config", async () => {
    const { parse } = await import("yaml");
    const a = compose({ localFiles, order: ["/etc/base.yaml", "/etc/overlay.yaml"], remote });
    const b = compose({ localFiles, order: ["/etc/base.yaml", "/etc/overlay.yaml"], remote });
    expect(a.yaml).toBe(b.yaml);
    expect(parse(a.yaml)).toEqual(a.config);
    expect(a.yaml.startsWith("receivers:\n")).toBe(true);
  });

  it("accepts parsed local content and never modifies it", () => {
    const content = { service: { extensions: ["zpages"] } };
    compose({
      localFiles: [{ name: "x", content }],
      order: ["x"],
      injected: { health: { endpoint: "localhost:1", path: "/" } },
    });
    expect(content).toEqual({ service: { extensions: ["zpages"] } });
  });

  it("skips a local file that is missing or not a YAML map, with a warning, as Go does; a bad remote file throws", () => {
    const skipped = compose({
      localFiles: [
        { name: "/etc/bad.yaml", content: "a: [" },
        { name: "/etc/ok.yaml", content: "a: 1" },
      ],
      order: ["/etc/bad.yaml", "/etc/none.yaml", "/etc/ok.yaml"],
    });
    expect(skipped.config).toEqual({ a: 1 });
    expect(skipped.warnings).toEqual([
      expect.stringMatching(/^agent\.config_files: \/etc\/bad\.yaml is skipped: /),
      "agent.config_files: /etc/none.yaml is skipped: no content (the file could not be read)",
    ]);
    expect(() => compose({ remote: [{ name: "r", body: "- a\n" }] })).toThrow(ConfigError);
    expect(() => compose({ remote: [{ name: "r", body: "- a\n" }] })).toThrow(/expected a map at the top level/);
    expect(compose({ localFiles: [{ name: "/x", content: "a: 1" }], order: [] }).config).toEqual({});
  });
});

describe("composeCollectorConfig: own telemetry", () => {
  const layer = { service: { telemetry: { metrics: { level: "detailed", readers: [{ periodic: {} }] } } } };
  const local = { name: "/etc/base.yaml", content: base };

  it("goes first when $OWN_TELEMETRY_CONFIG is absent, so a local file can override it (as in Go)", () => {
    const overriding = { name: "/etc/t.yaml", content: "service:\n  telemetry:\n    metrics:\n      level: basic\n" };
    const { config } = compose({
      localFiles: [local, overriding],
      order: ["/etc/base.yaml", "/etc/t.yaml"],
      ownTelemetry: layer,
    });
    expect(Object.keys(config)[0]).toBe("service");
    expect(config.service).toMatchObject({ telemetry: { metrics: { level: "basic", readers: [{ periodic: {} }] } } });
  });

  it("goes where $OWN_TELEMETRY_CONFIG is, and adds nothing when there are no settings", () => {
    const overriding = { name: "/etc/t.yaml", content: "service:\n  telemetry:\n    metrics:\n      level: basic\n" };
    const files = [local, overriding];
    const last = compose({
      localFiles: files,
      order: ["/etc/base.yaml", "/etc/t.yaml", "$OWN_TELEMETRY_CONFIG"],
      ownTelemetry: layer,
    });
    expect(last.config.service).toMatchObject({ telemetry: { metrics: { level: "detailed" } } });
    const none = compose({ localFiles: files, order: ["/etc/base.yaml", "$OWN_TELEMETRY_CONFIG"] });
    expect(none.yaml).toBe(compose({ localFiles: files, order: ["/etc/base.yaml"] }).yaml);
  });

  it("does not let later layers change the layer it was given", () => {
    const given = structuredClone(layer);
    compose({ localFiles: [local], order: ["/etc/base.yaml"], ownTelemetry: given });
    expect(given).toEqual(layer);
  });
});

describe("composeCollectorConfig: health_check", () => {
  const health = { endpoint: "localhost:13133", path: "/" };
  const local = (content: string) => ({ localFiles: [{ name: "c", content }], order: ["c"] });

  it("injects extensions.health_check and enables it when the config has none", () => {
    const result = compose({ ...local(base), injected: { health } });
    expect(result.config.extensions).toEqual({ health_check: { endpoint: "localhost:13133", path: "/" } });
    expect((result.config.service as Record<string, unknown>).extensions).toEqual(["health_check"]);
    expect(result.health).toEqual({ ...health, source: "injected", kind: "health_check" });
    expect(result.warnings).toEqual([]);
  });

  it("appends to existing service.extensions and creates missing sections", () => {
    const result = compose({
      ...local("extensions: {zpages: {}}\nservice: {extensions: [zpages]}\n"),
      injected: { health },
    });
    expect(result.config).toEqual({
      extensions: { zpages: {}, health_check: health },
      service: { extensions: ["zpages", "health_check"] },
    });
    const empty = compose({ injected: { health } });
    expect(empty.config).toEqual({ extensions: { health_check: health }, service: { extensions: ["health_check"] } });
    const listed = compose({ ...local("service: {extensions: [health_check]}\n"), injected: { health } });
    expect((listed.config.service as Record<string, unknown>).extensions).toEqual(["health_check"]);
  });

  it("leaves the user's health_check alone and reports where it listens", () => {
    const user =
      "extensions:\n  health_check: {endpoint: 0.0.0.0:9999, path: /ready}\nservice: {extensions: [health_check]}\n";
    const result = compose({ ...local(user), injected: { health } });
    expect(result.config.extensions).toEqual({ health_check: { endpoint: "0.0.0.0:9999", path: "/ready" } });
    expect(result.health).toEqual({ endpoint: "127.0.0.1:9999", path: "/ready", source: "user", kind: "health_check" });
    expect(result.warnings).toEqual([]);
  });

  it("fills the extension's own defaults for a bare user health_check and understands v2 and named ones", () => {
    const bare = compose({
      ...local("extensions: {health_check: }\nservice: {extensions: [health_check]}\n"),
      injected: { health },
    });
    expect(bare.health).toEqual({ endpoint: "localhost:13133", path: "/", source: "user", kind: "health_check" });
    expect(bare.config.extensions).toEqual({ health_check: null });
    const v2 = compose({
      ...local(
        "extensions: {health_check/v2: {use_v2: true, http: {endpoint: 'localhost:1'}}}\nservice: {extensions: [health_check/v2]}\n",
      ),
      injected: { health },
    });
    expect(v2.health).toEqual({ endpoint: "localhost:1", path: "/status", source: "user", kind: "healthcheckv2" });
  });

  it("warns when the user's health_check is not enabled in service.extensions", () => {
    const result = compose({
      ...local("extensions: {health_check: {endpoint: 'localhost:5'}}\n"),
      injected: { health },
    });
    expect(result.health).toEqual({ endpoint: "localhost:5", path: "/", source: "user", kind: "health_check" });
    expect(result.warnings).toEqual([expect.stringMatching(/^extensions\.health_check is configured but not listed/)]);
    expect(result.config.service).toBeUndefined();
  });

  it("injects nothing without injected.health but still reports a user health_check", () => {
    expect(compose(local(base)).health).toBeNull();
    expect(compose(local(base)).config.extensions).toBeUndefined();
    const user = compose(local("extensions: {health_check: {}}\nservice: {extensions: [health_check]}\n"));
    expect(user.health).toMatchObject({ source: "user" });
  });

  it("sees a health_check that arrives in a remote file", () => {
    const result = compose({
      ...local(base),
      remote: [
        { name: "r", body: "extensions: {health_check: {endpoint: ':7000'}}\nservice: {extensions: [health_check]}\n" },
      ],
      injected: { health },
    });
    expect(result.health).toEqual({ endpoint: "127.0.0.1:7000", path: "/", source: "user", kind: "health_check" });
  });

  it("injects healthcheckv2 with use_v2 and its http status endpoint when the collector has it", () => {
    const v2 = { ...health, path: "/status", kind: "healthcheckv2" as const };
    const result = compose({ ...local(base), injected: { health: v2 } });
    expect(result.config.extensions).toEqual({
      healthcheckv2: { use_v2: true, http: { endpoint: "localhost:13133", status: { path: "/status" } } },
    });
    expect((result.config.service as Record<string, unknown>).extensions).toEqual(["healthcheckv2"]);
    expect(result.health).toEqual({
      endpoint: "localhost:13133",
      path: "/status",
      source: "injected",
      kind: "healthcheckv2",
    });
  });

  it("polls the user's own healthcheckv2 (v2 only with use_v2) and prefers an enabled use_v2 one", () => {
    const own = compose({
      ...local(
        "extensions:\n  healthcheckv2/x: {use_v2: true, http: {endpoint: '0.0.0.0:7', status: {path: /s}}}\nservice: {extensions: [healthcheckv2/x]}\n",
      ),
      injected: { health: { ...health, kind: "healthcheckv2" } },
    });
    expect(own.health).toEqual({ endpoint: "127.0.0.1:7", path: "/s", source: "user", kind: "healthcheckv2" });
    expect(Object.keys(own.config.extensions as object)).toEqual(["healthcheckv2/x"]);
    const legacy = compose({
      ...local("extensions: {healthcheckv2: {endpoint: 'localhost:8'}}\nservice: {extensions: [healthcheckv2]}\n"),
      injected: { health },
    });
    expect(legacy.health).toEqual({ endpoint: "localhost:8", path: "/", source: "user", kind: "health_check" });
    const both = compose({
      ...local(
        "extensions:\n  health_check: {}\n  healthcheckv2: {use_v2: true, http: {}}\nservice: {extensions: [health_check, healthcheckv2]}\n",
      ),
      injected: { health },
    });
    expect(both.health).toMatchObject({ kind: "healthcheckv2", path: "/status" });
    const noHttp = compose({
      ...local("extensions: {healthcheckv2: {use_v2: true, grpc: {}}}\nservice: {extensions: [healthcheckv2]}\n"),
      injected: { health },
    });
    expect(noHttp.warnings).toEqual([expect.stringMatching(/use_v2 but no http block/)]);
  });

  it("throws ConfigError when extensions or service.extensions have the wrong shape", () => {
    expect(() => compose({ ...local("extensions: [a]\n"), injected: { health } })).toThrow(
      /extensions: expected a map/,
    );
    expect(() => compose({ ...local("service: {extensions: a}\n"), injected: { health } })).toThrow(
      /service\.extensions/,
    );
  });
});

describe("composeCollectorConfig: the same local text composed again", () => {
  it("gives the same result each time: one composition's injection and merges never leak into the next", () => {
    const local = "extensions:\n  zpages: {}\nservice:\n  extensions: [zpages]\n  pipelines: {}\n";
    const base = { localFiles: [{ name: "l.yaml", content: local }], order: ["l.yaml"], remote: [] };
    const injected = { health: { endpoint: "127.0.0.1:13133", path: "/" } };
    const first = composeCollectorConfig({ ...base, injected });
    const second = composeCollectorConfig({ ...base, injected });
    expect(second.yaml).toBe(first.yaml);
    expect(second.config["service"]).toEqual({ extensions: ["zpages", "health_check"], pipelines: {} });
    const plain = composeCollectorConfig({ ...base, injected: {} });
    expect(plain.config).toEqual({ extensions: { zpages: {} }, service: { extensions: ["zpages"], pipelines: {} } });
    const edited = composeCollectorConfig({
      ...base,
      localFiles: [{ name: "l.yaml", content: local.replace("zpages: {}", "zpages: {endpoint: ':55679'}") }],
      injected: {},
    });
    expect(edited.config["extensions"]).toEqual({ zpages: { endpoint: ":55679" } });
  });
});
