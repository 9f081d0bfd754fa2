/**
 * telemetry.* in the Go supervisor's (otelconf) shape: readers, processors, exporters and
 * the resource resolve to typed values; what is not implemented is refused naming the key.
 */
import { describe, expect, it } from "vitest";
import { MINIMAL, configError, resolve } from "./helpers.js";

const withTelemetry = (yaml: string): string => `${MINIMAL}telemetry:\n${yaml}`;
const otlp = (extra = ""): string => `{otlp: {protocol: http/protobuf, endpoint: "http://c:4318"${extra}}}`;

describe("telemetry.metrics.readers", () => {
  it("reads a pull reader and a periodic OTLP reader with otelconf defaults", () => {
    const config = resolve(
      withTelemetry(`  metrics:
    readers:
      - pull: {exporter: {prometheus: {host: 0.0.0.0, port: 9464}}}
      - periodic: {exporter: ${otlp()}}
`),
    );
    expect(config.warnings).toEqual([]);
    expect(config.telemetry.metrics.readers).toEqual([
      { kind: "pull", host: "0.0.0.0", port: 9464 },
      {
        kind: "periodic",
        intervalMs: 60_000,
        timeoutMs: 30_000,
        exporter: {
          protocol: "http/protobuf",
          url: "http://c:4318/v1/metrics",
          headers: {},
          certificate: null,
          clientCertificate: null,
          clientKey: null,
          compression: "none",
          timeoutMs: 10_000,
        },
      },
    ]);
  });

  it("keeps an endpoint's own path, resolves PEM paths and merges header forms (headers win)", () => {
    const config = resolve(
      withTelemetry(`  metrics:
    readers:
      - periodic:
          interval: 5s
          exporter:
            otlp_http:
              endpoint: https://otlp.example/custom/path
              headers: [{name: x-api-key, value: from-list}]
              headers_list: "x-api-key=overridden,x-team=a%20b"
              certificate: ca.pem
              client_certificate_file: /abs/cert.pem
              compression: gzip
              timeout: 2000
`),
    );
    const [reader] = config.telemetry.metrics.readers;
    expect(reader).toMatchObject({
      kind: "periodic",
      intervalMs: 5_000,
      timeoutMs: 5_000, // the default shrinks to the interval
      exporter: {
        url: "https://otlp.example/custom/path",
        headers: { "x-api-key": "from-list", "x-team": "a b" },
        certificate: "/etc/otelcol/ca.pem",
        clientCertificate: "/abs/cert.pem",
        compression: "gzip",
        timeoutMs: 2_000,
      },
    });
  });

  it("level none turns the readers off", () => {
    const config = resolve(
      withTelemetry(`  metrics:\n    level: none\n    readers: [{periodic: {exporter: ${otlp()}}}]\n`),
    );
    expect(config.telemetry.metrics).toEqual({ level: "none", readers: [] });
  });

  it("refuses what it does not implement, naming each key", () => {
    const err = configError(
      withTelemetry(`  metrics:
    readers:
      - periodic: {exporter: {otlp: {protocol: grpc, endpoint: "http://c:4317"}}}
      - periodic: {exporter: {otlp_grpc: {endpoint: "http://c:4317"}}}
      - periodic: {exporter: {console: {}}}
      - periodic: {interval: 1000, timeout: 5000, exporter: ${otlp(", temporality_preference: delta")}}
      - pull: {exporter: {prometheus: {port: 9464, without_units: true}}}
      - push: {}
      - periodic: {exporter: {otlp: {endpoint: "ftp://c"}}}
`),
    );
    expect(err.problems).toEqual([
      expect.stringMatching(
        /^telemetry\.metrics\.readers\[0\]\.periodic\.exporter\.otlp\.protocol: gRPC is not supported/,
      ),
      expect.stringMatching(/^telemetry\.metrics\.readers\[1\]\.periodic\.exporter\.otlp_grpc: gRPC is not supported/),
      expect.stringMatching(/^telemetry\.metrics\.readers\[2\]\.periodic\.exporter\.console: is an otelconf key/),
      "telemetry.metrics.readers[3].periodic.timeout: must be ≤ the interval (1000 ms), got 5000 ms",
      expect.stringMatching(
        /^telemetry\.metrics\.readers\[3\]\.periodic\.exporter\.otlp\.temporality_preference: is an otelconf key/,
      ),
      expect.stringMatching(
        /^telemetry\.metrics\.readers\[4\]\.pull\.exporter\.prometheus\.without_units: is an otelconf/,
      ),
      "telemetry.metrics.readers[5].push: unknown kind (expected one of: pull, periodic)",
      'telemetry.metrics.readers[6].periodic.exporter.otlp.endpoint: expected an http:// or https:// URL, got string "ftp://c"',
    ]);
  });

  it("requires an exporter and an endpoint", () => {
    const err = configError(
      withTelemetry(`  metrics:\n    readers: [{periodic: {}}, {periodic: {exporter: {otlp: {}}}}]\n`),
    );
    expect(err.problems).toEqual([
      "telemetry.metrics.readers[0].periodic.exporter: is required (expected a map with otlp)",
      "telemetry.metrics.readers[1].periodic.exporter.otlp.endpoint: is required (expected a string)",
    ]);
  });
});

describe("telemetry.traces.processors and telemetry.logs.processors", () => {
  it("read batch (with otelconf defaults) and simple processors, each with the signal's path", () => {
    const config = resolve(
      withTelemetry(`  traces:
    processors:
      - batch: {schedule_delay: 200, max_queue_size: 10, exporter: ${otlp()}}
  logs:
    level: warn
    processors:
      - simple: {exporter: ${otlp()}}
`),
    );
    expect(config.telemetry.traces.processors).toEqual([
      expect.objectContaining({
        kind: "batch",
        scheduleDelayMs: 200,
        exportTimeoutMs: 30_000,
        maxQueueSize: 10,
        maxExportBatchSize: 512,
        exporter: expect.objectContaining({ url: "http://c:4318/v1/traces" }),
      }),
    ]);
    expect(config.telemetry.logs).toEqual({
      level: "warn",
      processors: [{ kind: "simple", exporter: expect.objectContaining({ url: "http://c:4318/v1/logs" }) }],
    });
  });

  it("traces level none turns the processors off", () => {
    const config = resolve(withTelemetry(`  traces: {level: none, processors: [{simple: {exporter: ${otlp()}}}]}\n`));
    expect(config.telemetry.traces.processors).toEqual([]);
  });

  it("refuses a processor that is not one map of batch or simple", () => {
    const err = configError(
      withTelemetry(`  logs:\n    processors: [{batch: {exporter: ${otlp()}}, simple: {}}, x]\n`),
    );
    expect(err.problems).toEqual([
      expect.stringMatching(/^telemetry\.logs\.processors\[0\]: expected a map with one of batch, simple/),
      expect.stringMatching(/^telemetry\.logs\.processors\[1\]: expected a map with one of batch, simple/),
    ]);
  });

  it("never echoes a header value in a problem", () => {
    const err = configError(
      withTelemetry(
        `  logs:\n    processors: [{simple: {exporter: {otlp: {endpoint: "http://c", headers: {k: [s3cr3t-v]}}}}}]\n`,
      ),
    );
    expect(err.problems.join("\n")).not.toContain("s3cr3t-v");
  });
});

describe("telemetry.resource", () => {
  it("merges inline keys, attributes_list and typed attributes (attributes win), and schema_url", () => {
    const config = resolve(
      withTelemetry(`  resource:
    service.name: from-inline
    service.instance.id: null
    attributes_list: "deployment.environment=prod,service.name=from-list"
    attributes:
      - {name: service.name, value: sup-a}
      - {name: host.cpus, value: 4, type: int}
      - {name: canary, value: true, type: bool}
    schema_url: https://opentelemetry.io/schemas/1.26.0
`),
    );
    expect(config.telemetry.resource).toEqual({
      attributes: {
        "service.name": "sup-a",
        "service.instance.id": null,
        "deployment.environment": "prod",
        "host.cpus": 4,
        canary: true,
      },
      schemaUrl: "https://opentelemetry.io/schemas/1.26.0",
    });
  });

  it("refuses detectors and values of the wrong type", () => {
    const err = configError(
      withTelemetry(`  resource:
    detection/development: {detectors: [{host: {}}]}
    attributes: [{name: n, value: x, type: int}]
`),
    );
    expect(err.problems).toEqual([
      'telemetry.resource["detection/development"]: resource detectors are not implemented here; set the attributes instead',
      'telemetry.resource.attributes[0].value: expected a int, got string "x"',
    ]);
  });
});
