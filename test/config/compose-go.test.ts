/**
 * Composition equal to the official Go supervisor's for the same inputs. Each case names
 * where its expected output comes from:
 *   [merge]  Go's cmd/opampsupervisor/supervisor/config/confmap.go, MergeConf: extension lists
 *            concatenated without duplicates, resource attributes merged by name, the
 *            "clear resource attributes" marker keeping only schema_url and detectors;
 *   [confmap] the collector's confmap merge, which MergeConf starts from: maps merge key by
 *            key, lists and scalars from the later layer replace;
 *   [order]  the Go supervisor's README on agent.config_files: the special tokens mark where
 *            each generated layer goes; without $REMOTE_CONFIG the remote config comes last;
 *            remote files merge sorted by name with the unnamed "" last;
 *   [here]   a documented difference: this supervisor runs no local OpAMP server and no own
 *            telemetry, so $OWN_TELEMETRY_CONFIG and $OPAMP_EXTENSION_CONFIG add nothing.
 * The injected health_check is switched off so only the merge rules are compared.
 */
import { describe, expect, it } from "vitest";
import { composeCollectorConfig } from "../../src/config/compose.js";

type Case = {
  name: string;
  source: "[merge]" | "[confmap]" | "[order]" | "[here]";
  local: Record<string, string>;
  order?: string[];
  remote?: Record<string, string>;
  expected: Record<string, unknown>;
};

const cases: Case[] = [
  {
    name: "a local file_storage extension stays enabled next to the remote config's own extensions",
    source: "[merge]",
    local: { "local.yaml": "extensions: {file_storage: {}}\nservice: {extensions: [file_storage]}" },
    remote: { "": "extensions: {pprof: {}, zpages: {}}\nservice: {extensions: [pprof, file_storage, zpages]}" },
    expected: {
      extensions: { file_storage: {}, pprof: {}, zpages: {} },
      service: { extensions: ["file_storage", "pprof", "zpages"] },
    },
  },
  {
    name: "extension lists of every layer concatenate in layer order, first occurrence kept",
    source: "[merge]",
    local: {
      "a.yaml": "service: {extensions: [a, b]}",
      "b.yaml": "service: {extensions: [c, a]}",
      "c.yaml": "service: {pipelines: {}}",
    },
    remote: { "r.yaml": "service: {extensions: [b, d]}" },
    expected: { service: { extensions: ["a", "b", "c", "d"], pipelines: {} } },
  },
  {
    name: "a layer without service.extensions keeps the list",
    source: "[merge]",
    local: { "a.yaml": "service: {extensions: [a]}" },
    remote: { "r.yaml": "service: {telemetry: {logs: {level: debug}}}" },
    expected: { service: { extensions: ["a"], telemetry: { logs: { level: "debug" } } } },
  },
  {
    name: "pipelines merge by name; a pipeline's receiver list is replaced, its other keys kept",
    source: "[confmap]",
    local: {
      "a.yaml":
        "service: {pipelines: {traces: {receivers: [otlp], processors: [batch], exporters: [debug]}, logs: {receivers: [filelog], exporters: [debug]}}}",
    },
    remote: {
      "r.yaml":
        "service: {pipelines: {traces: {receivers: [jaeger]}, metrics: {receivers: [hostmetrics], exporters: [otlp]}}}",
    },
    expected: {
      service: {
        pipelines: {
          traces: { receivers: ["jaeger"], processors: ["batch"], exporters: ["debug"] },
          logs: { receivers: ["filelog"], exporters: ["debug"] },
          metrics: { receivers: ["hostmetrics"], exporters: ["otlp"] },
        },
      },
    },
  },
  {
    name: "scalars: the later layer wins, null replaces a map",
    source: "[confmap]",
    local: {
      "a.yaml": "exporters: {otlp: {endpoint: a:4317, tls: {insecure: true}}}\nprocessors: {batch: {timeout: 1s}}",
    },
    remote: { "r.yaml": "exporters: {otlp: {endpoint: b:4317}}\nprocessors: {batch: null}" },
    expected: { exporters: { otlp: { endpoint: "b:4317", tls: { insecure: true } } }, processors: { batch: null } },
  },
  {
    name: "without $REMOTE_CONFIG the remote config comes after every local file",
    source: "[order]",
    local: { "a.yaml": "x: a", "b.yaml": "x: b\ny: b" },
    remote: { "r.yaml": "x: remote" },
    expected: { x: "remote", y: "b" },
  },
  {
    name: "a file after $REMOTE_CONFIG overrides the remote config (a compliance layer)",
    source: "[order]",
    local: { "a.yaml": "x: a\nz: a", "policy.yaml": "x: policy" },
    order: ["a.yaml", "$REMOTE_CONFIG", "policy.yaml"],
    remote: { "r.yaml": "x: remote\nz: remote" },
    expected: { x: "policy", z: "remote" },
  },
  {
    name: "remote files merge sorted by name, the unnamed one last",
    source: "[order]",
    local: {},
    remote: { "": "x: unnamed", "b.yaml": "x: b\ny: b", "a.yaml": "x: a\ny: a\nz: a" },
    expected: { x: "unnamed", y: "b", z: "a" },
  },
  {
    name: "$OWN_TELEMETRY_CONFIG and $OPAMP_EXTENSION_CONFIG are accepted anywhere and add nothing",
    source: "[here]",
    local: { "a.yaml": "x: a" },
    order: ["$OPAMP_EXTENSION_CONFIG", "a.yaml", "$OWN_TELEMETRY_CONFIG", "$REMOTE_CONFIG"],
    remote: { "r.yaml": "y: r" },
    expected: { x: "a", y: "r" },
  },
  {
    name: "resource attributes of local layers merge by name, a later value replacing in place",
    source: "[merge]",
    local: {
      "a.yaml": "service: {telemetry: {resource: {attributes: [{name: a, value: '1'}, {name: b, value: '2'}]}}}",
      "b.yaml":
        "service: {telemetry: {resource: {attributes: [{name: b, value: '3'}, {value: anonymous}, {name: c, value: '4'}]}}}",
    },
    expected: {
      service: {
        telemetry: {
          resource: {
            attributes: [
              { name: "a", value: "1" },
              { name: "b", value: "3" },
              { value: "anonymous" },
              { name: "c", value: "4" },
            ],
          },
        },
      },
    },
  },
  {
    name: "a remote config that declares resource attributes replaces the local ones, keeping schema_url and detectors",
    source: "[merge]",
    local: {
      "a.yaml":
        "service: {telemetry: {resource: {schema_url: 'https://s', detectors: [env], attributes: [{name: local, value: x}], legacy.key: y}}}",
    },
    remote: {
      "a.yaml": "service: {telemetry: {resource: {attributes: [{name: r1, value: '1'}]}}}",
      "b.yaml": "service: {telemetry: {resource: {attributes: [{name: r2, value: '2'}, {name: r1, value: '3'}]}}}",
    },
    expected: {
      service: {
        telemetry: {
          resource: {
            schema_url: "https://s",
            detectors: ["env"],
            attributes: [
              { name: "r1", value: "3" },
              { name: "r2", value: "2" },
            ],
          },
        },
      },
    },
  },
  {
    name: "a remote config without resource attributes keeps the local ones",
    source: "[merge]",
    local: { "a.yaml": "service: {telemetry: {resource: {attributes: [{name: local, value: x}]}}}" },
    remote: { "r.yaml": "service: {telemetry: {logs: {level: warn}}}" },
    expected: {
      service: { telemetry: { resource: { attributes: [{ name: "local", value: "x" }] }, logs: { level: "warn" } } },
    },
  },
];

describe("composition equals the official Go supervisor's", () => {
  it.each(cases)("$source $name", ({ local, order, remote, expected }) => {
    const result = composeCollectorConfig({
      localFiles: Object.entries(local).map(([name, content]) => ({ name, content })),
      order: order ?? Object.keys(local),
      remote: Object.entries(remote ?? {}).map(([name, body]) => ({ name, body })),
      injected: {},
    });
    expect(result.config).toEqual(expected);
    expect(result.warnings).toEqual([]);
  });
});
