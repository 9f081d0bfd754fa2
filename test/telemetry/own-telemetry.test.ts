import { describe, expect, it } from "vitest";
import type { OfferedTelemetry } from "../../src/opamp/domain.js";
import {
  OWN_METRICS_INTERVAL_MS,
  ownTelemetryFiles,
  ownTelemetryLayer,
  ownTelemetrySecrets,
  parseStoredOwnTelemetry,
  storedOwnTelemetryJson,
} from "../../src/telemetry/own-telemetry.js";
import { checkTelemetryOffer } from "../../src/telemetry/own-telemetry-offer.js";
import { clientCert, makeCa } from "../connection/pki.js";

const UID = "0192e4a4-0000-7000-8000-000000000001";

describe("ownTelemetryLayer", () => {
  it("is nothing when no signal has a destination", () => {
    expect(ownTelemetryLayer({}, UID)).toBeNull();
    expect(ownTelemetryLayer({ metrics: undefined }, UID)).toBeNull();
  });

  it("makes a periodic OTLP/HTTP reader, batch exporters, the headers as a name/value list, the TLS files, and the uid in the resource", () => {
    const layer = ownTelemetryLayer(
      {
        metrics: { endpoint: "https://m:4318/v1/metrics", headers: { "X-Token": "t1" }, caFile: "/s/ca.pem" },
        logs: { endpoint: "http://l:4318/v1/logs", headers: {} },
        traces: { endpoint: "https://t/v1/traces", headers: {}, certFile: "/s/c.pem", keyFile: "/s/k.pem" },
      },
      UID,
    );
    expect(layer).toEqual({
      service: {
        telemetry: {
          metrics: {
            readers: [
              {
                periodic: {
                  interval: OWN_METRICS_INTERVAL_MS,
                  exporter: {
                    otlp: {
                      protocol: "http/protobuf",
                      endpoint: "https://m:4318/v1/metrics",
                      headers: [{ name: "X-Token", value: "t1" }],
                      certificate: "/s/ca.pem",
                    },
                  },
                },
              },
            ],
          },
          traces: {
            processors: [
              {
                batch: {
                  exporter: {
                    otlp: {
                      protocol: "http/protobuf",
                      endpoint: "https://t/v1/traces",
                      client_certificate: "/s/c.pem",
                      client_key: "/s/k.pem",
                    },
                  },
                },
              },
            ],
          },
          logs: {
            processors: [
              { batch: { exporter: { otlp: { protocol: "http/protobuf", endpoint: "http://l:4318/v1/logs" } } } },
            ],
          },
          resource: { "service.instance.id": UID },
        },
      },
    });
    expect(OWN_METRICS_INTERVAL_MS).toBe(10_000); // the spec's recommendation
  });
});

describe("the own-telemetry state document", () => {
  const settings = {
    metrics: { endpoint: "https://m/v1/metrics", headers: { a: "secret-1" }, caFile: "/s/1.pem" },
    logs: { endpoint: "https://l/v1/logs", headers: { b: "secret-2" }, certFile: "/s/2.pem", keyFile: "/s/3.pem" },
  };

  it("reads back what was written, and names its secrets and files", () => {
    const json = JSON.parse(JSON.stringify(storedOwnTelemetryJson({ hash: "0a0b", settings }))) as unknown;
    const back = parseStoredOwnTelemetry(json);
    expect(back.hash).toBe("0a0b");
    expect(back.settings.metrics).toEqual({ ...settings.metrics, certFile: undefined, keyFile: undefined });
    expect(ownTelemetrySecrets(back.settings).sort()).toEqual(["secret-1", "secret-2"]);
    expect(ownTelemetryFiles(back.settings).sort()).toEqual(["/s/1.pem", "/s/2.pem", "/s/3.pem"]);
  });

  it.each([
    ["another version", { version: 2, hash: "", settings: {} }],
    ["a hash that is not hex", { version: 1, hash: "zz", settings: {} }],
    ["an endpoint that is not text", { version: 1, hash: "", settings: { metrics: { endpoint: 1, headers: {} } } }],
    [
      "a header value that is not text",
      { version: 1, hash: "", settings: { logs: { endpoint: "x", headers: { a: 1 } } } },
    ],
    ["no settings", { version: 1, hash: "" }],
  ])("refuses %s", (_, doc) => {
    expect(() => parseStoredOwnTelemetry(doc)).toThrow();
  });
});

describe("checkTelemetryOffer", () => {
  const offered = (o: Partial<OfferedTelemetry>): OfferedTelemetry => ({
    endpoint: "https://collector.example:4318/v1/metrics",
    headers: undefined,
    certificate: undefined,
    tls: undefined,
    hasProxy: false,
    ...o,
  });
  const ca = makeCa("Own Telemetry CA", 40);
  const client = clientCert(ca, 41, { cn: "agent" });

  it("turns the signal off for an empty endpoint", () => {
    expect(checkTelemetryOffer("metrics", offered({ endpoint: "" }))).toEqual({
      ok: true,
      destination: null,
      pems: {},
      ignored: [],
    });
  });

  it("takes the endpoint, headers, CA and client certificate", () => {
    const checked = checkTelemetryOffer(
      "metrics",
      offered({
        headers: [{ key: "Authorization", value: "Bearer x" }],
        certificate: { certPem: client.certPem, keyPem: client.keyPem, caPem: ca.certPem },
      }),
    );
    expect(checked).toEqual({
      ok: true,
      destination: { endpoint: "https://collector.example:4318/v1/metrics", headers: { Authorization: "Bearer x" } },
      pems: { ca: ca.certPem, cert: client.certPem, key: client.keyPem },
      ignored: [],
    });
  });

  it("names what the collector's exporter has no setting for", () => {
    const checked = checkTelemetryOffer(
      "logs",
      offered({
        endpoint: "http://plain:4318/v1/logs",
        hasProxy: true,
        certificate: { certPem: client.certPem, keyPem: client.keyPem, caPem: "" },
      }),
    );
    expect(checked.ok && checked.ignored).toEqual([
      "proxy (the collector takes its proxy from HTTPS_PROXY/HTTP_PROXY)",
      "certificates (the endpoint is plain http://)",
    ]);
    expect(checked.ok && checked.pems).toEqual({});
  });

  it.each([
    ["not a URL", offered({ endpoint: "::" }), /^own_traces: the endpoint "::" is not a URL$/],
    ["another scheme", offered({ endpoint: "grpc://c:4317" }), /must be http:\/\/ or https:\/\//],
    ["credentials in the URL", offered({ endpoint: "https://u:p@c/v1/traces" }), /credentials in the URL/],
    ["a bad header name", offered({ headers: [{ key: "a b", value: "v" }] }), /header name "a b" is not valid/],
    ["a header value with a newline", offered({ headers: [{ key: "a", value: "v\r\nx: y" }] }), /CR, LF or NUL/],
    [
      "skipping verification",
      offered({
        tls: {
          caPem: "",
          includeSystemCa: false,
          insecureSkipVerify: true,
          minVersion: "",
          maxVersion: "",
          cipherSuites: [],
        },
      }),
      /insecure_skip_verify is not supported/,
    ],
    ["a CA that is not PEM", offered({ certificate: { certPem: "", keyPem: "", caPem: "junk" } }), /CA is not a PEM/],
    [
      "a certificate without its key",
      offered({ certificate: { certPem: "x", keyPem: "", caPem: "" } }),
      /needs both the certificate and its key/,
    ],
    [
      "a key that is not a key",
      offered({
        certificate: { certPem: "-----BEGIN CERTIFICATE-----\nAA\n-----END CERTIFICATE-----", keyPem: "k", caPem: "" },
      }),
      /client key is not a PEM private key/,
    ],
  ])("refuses %s", (_, offer, reason) => {
    const checked = checkTelemetryOffer("traces", offer);
    expect(checked.ok).toBe(false);
    if (!checked.ok) expect(checked.reason).toMatch(reason);
  });
});
