/**
 * fast-check arbitraries for ServerToAgent frames: messages with a valid structure and random
 * values (every sub-message the agent acts on), and the same frames mutated the ways a hostile
 * or broken server mutates them (truncation, bit flips, huge length prefixes, spliced garbage,
 * a bad WebSocket header).
 */
import fc from "fast-check";
import { encodeServerToAgent, frameWs, newServerToAgent } from "../../src/opamp/codec.js";
import type { Reply } from "../support/opamp-test-server.js";

const bytes = (max = 40): fc.Arbitrary<Uint8Array> => fc.uint8Array({ maxLength: max });
/** 16 bytes most of the time (a valid uid), other sizes sometimes. */
const uid = fc.oneof(
  { weight: 3, arbitrary: fc.uint8Array({ minLength: 16, maxLength: 16 }) },
  { weight: 1, arbitrary: bytes(24) },
);
const text = (max = 24): fc.Arbitrary<string> =>
  fc.oneof(fc.string({ maxLength: max }), fc.string({ unit: "binary", maxLength: max }));
const u64 = fc.oneof(
  fc.constantFrom(0n, 1n, 2n, 3n, 4n, 0xffffffffffffffffn),
  fc.bigInt({ min: 0n, max: 0xffffffffffffffffn }),
);
const enumValue = fc.oneof(fc.integer({ min: 0, max: 4 }), fc.integer({ min: -5, max: 2 ** 31 - 1 }));

const headers = fc
  .array(fc.record({ key: text(12), value: text(16) }), { maxLength: 3 })
  .map((list) => ({ headers: list }));
const certificate = fc.record({ cert: bytes(), privateKey: bytes(), caCert: bytes() }, { requiredKeys: [] });
const tls = fc.record(
  {
    caPemContents: text(40),
    includeSystemCaCertsPool: fc.boolean(),
    insecureSkipVerify: fc.boolean(),
    minVersion: fc.constantFrom("", "1.0", "1.2", "1.3", "TLS1.2", "x"),
    maxVersion: fc.constantFrom("", "1.2", "1.3", "9"),
    cipherSuites: fc.array(text(20), { maxLength: 3 }),
  },
  { requiredKeys: [] },
);
const endpoint = fc.oneof(
  fc.constantFrom(
    "",
    "ws://127.0.0.1:1/v1/opamp",
    "wss://example.invalid/v1/opamp",
    "http://127.0.0.1:1/v1/opamp",
    "https://[::1]:4320/x",
    "ftp://x",
    "not a url",
  ),
  fc.webUrl(),
  text(40),
);
const telemetry = fc.record({ destinationEndpoint: endpoint, headers, certificate, tls }, { requiredKeys: [] });

/** YAML-ish bodies: valid collector configs, near misses, and noise. */
export const configBody: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    "",
    "receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:0\n",
    "exporters: {debug: {}}\n",
    "{}",
    "[1, 2]",
    "a: &x [*x]\n",
    "a: b: c\n",
    "\t- x",
    "key: ${env:SECRET}\n",
    '{"service": {"pipelines": {}}}',
  ),
  fc
    .dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 })
    .map((v) => JSON.stringify(v)),
  text(120),
);

/** config_map keys: plain names mostly, and every kind of path trick. */
export const configMapKey: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    "",
    "collector.yaml",
    ".",
    "..",
    "../x",
    "a/b",
    "a\\b",
    "C:x",
    "nul\0",
    "\n",
    "é.yaml",
    "x".repeat(300),
  ),
  fc.string({ maxLength: 20 }),
  fc.string({ unit: "binary", maxLength: 20 }),
);

const configFile = fc.record(
  {
    body: fc.oneof(
      configBody.map((s) => new TextEncoder().encode(s)),
      bytes(60),
    ),
    contentType: fc.constantFrom("", "text/yaml", "application/json", "x"),
  },
  { requiredKeys: [] },
);

const remoteConfig = fc.record(
  {
    config: fc.record({ configMap: fc.dictionary(configMapKey, configFile, { maxKeys: 3 }) }, { requiredKeys: [] }),
    configHash: bytes(33),
  },
  { requiredKeys: [] },
);

const downloadableFile = fc.record(
  {
    downloadUrl: endpoint,
    contentHash: fc.oneof(fc.uint8Array({ minLength: 32, maxLength: 32 }), bytes(40)),
    signature: fc.oneof(fc.uint8Array({ minLength: 64, maxLength: 64 }), bytes(100)),
    headers,
  },
  { requiredKeys: [] },
);

/** PackagesAvailable as the init shape the codec takes. */
export const packagesAvailable = fc.record(
  {
    packages: fc.dictionary(
      fc.oneof(fc.constantFrom("", "otelcol", "../otelcol", "a/b"), fc.string({ maxLength: 12 })),
      fc.record(
        {
          type: enumValue,
          version: fc.oneof(fc.constantFrom("", "0.1.0", "v1", "1.2.3-rc.1+x"), text(20)),
          file: downloadableFile,
          hash: bytes(33),
        },
        { requiredKeys: [] },
      ),
      { maxKeys: 3 },
    ),
    allPackagesHash: bytes(33),
  },
  { requiredKeys: [] },
);

const connectionSettings = fc.record(
  {
    hash: bytes(33),
    opamp: fc.record(
      {
        destinationEndpoint: endpoint,
        headers,
        certificate,
        heartbeatIntervalSeconds: u64,
        tls,
        proxy: fc.record({ url: endpoint, connectHeaders: headers }, { requiredKeys: [] }),
      },
      { requiredKeys: [] },
    ),
    ownMetrics: telemetry,
    ownTraces: telemetry,
    ownLogs: telemetry,
    otherConnections: fc.dictionary(
      fc.string({ maxLength: 8 }),
      fc.record(
        {
          destinationEndpoint: endpoint,
          otherSettings: fc.dictionary(fc.string({ maxLength: 6 }), text(10), { maxKeys: 2 }),
        },
        { requiredKeys: [] },
      ),
      { maxKeys: 2 },
    ),
  },
  { requiredKeys: [] },
);

/** A ServerToAgent init with a valid structure and random values in every field the agent reads. */
export const serverToAgent: fc.Arbitrary<Reply> = fc
  .record(
    {
      instanceUid: uid,
      errorResponse: fc.record(
        {
          type: enumValue,
          errorMessage: text(40),
          Details: fc.option(
            fc.record({ case: fc.constant("retryInfo" as const), value: fc.record({ retryAfterNanoseconds: u64 }) }),
            { nil: undefined },
          ),
        },
        { requiredKeys: [] },
      ),
      remoteConfig,
      connectionSettings,
      packagesAvailable,
      flags: u64,
      capabilities: u64,
      agentIdentification: fc.record({ newInstanceUid: uid }),
      command: fc.record({ type: enumValue }),
      customCapabilities: fc.record({ capabilities: fc.array(text(20), { maxLength: 3 }) }),
      customMessage: fc.record({ capability: text(20), type: text(10), data: bytes() }, { requiredKeys: [] }),
    },
    // Rarely everything at once: most real messages carry one or two parts.
    { requiredKeys: [] },
  )
  .map((init) => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(init)) if (v !== undefined) out[k] = v;
    if (out["errorResponse"] && (out["errorResponse"] as { Details?: unknown }).Details === undefined)
      delete (out["errorResponse"] as { Details?: unknown }).Details;
    return out;
  });

export function encodeReply(reply: Reply): Uint8Array {
  return encodeServerToAgent(newServerToAgent(reply));
}

/** A protobuf tag + huge length prefix for a length-delimited field: claims far more bytes than follow. */
function hugeLength(field: number, claimed: bigint): Uint8Array {
  const out = [(field << 3) | 2];
  let v = claimed;
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return Uint8Array.from(out);
}

export type Mutation =
  | { kind: "none" }
  | { kind: "truncate"; at: number }
  | { kind: "flip"; positions: number[] }
  | { kind: "huge-length"; field: number; claimed: bigint; at: number }
  | { kind: "splice"; at: number; garbage: Uint8Array }
  | { kind: "header"; header: Uint8Array };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 2, arbitrary: fc.constant({ kind: "none" as const }) },
  { weight: 2, arbitrary: fc.nat().map((at) => ({ kind: "truncate" as const, at })) },
  {
    weight: 3,
    arbitrary: fc
      .array(fc.nat(), { minLength: 1, maxLength: 8 })
      .map((positions) => ({ kind: "flip" as const, positions })),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("huge-length" as const),
      field: fc.integer({ min: 1, max: 12 }),
      claimed: fc.oneof(
        fc.constantFrom(2n ** 31n, 2n ** 32n - 1n, 2n ** 63n, 2n ** 64n - 1n),
        fc.bigInt({ min: 1n, max: 2n ** 64n - 1n }),
      ),
      at: fc.nat(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("splice" as const),
      at: fc.nat(),
      garbage: fc.uint8Array({ minLength: 1, maxLength: 16 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("header" as const),
      header: fc.oneof(
        fc.constantFrom(
          Uint8Array.of(1),
          Uint8Array.of(0x80),
          Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01),
        ),
        fc.uint8Array({ maxLength: 11 }),
      ),
    }),
  },
);

/** Applies `m` to a protobuf payload and returns the WebSocket frame (header included). */
export function mutate(payload: Uint8Array, m: Mutation): Uint8Array {
  switch (m.kind) {
    case "none":
      return frameWs(payload);
    case "truncate":
      return frameWs(payload.subarray(0, payload.length === 0 ? 0 : m.at % payload.length));
    case "flip": {
      const out = frameWs(payload);
      for (const p of m.positions) out[p % out.length] = (out[p % out.length] as number) ^ (1 << (p % 8));
      return out;
    }
    case "huge-length": {
      const at = payload.length === 0 ? 0 : m.at % (payload.length + 1);
      const prefix = hugeLength(m.field, m.claimed);
      const out = new Uint8Array(payload.length + prefix.length);
      out.set(payload.subarray(0, at), 0);
      out.set(prefix, at);
      out.set(payload.subarray(at), at + prefix.length);
      return frameWs(out);
    }
    case "splice": {
      const at = payload.length === 0 ? 0 : m.at % (payload.length + 1);
      return frameWs(Uint8Array.from([...payload.subarray(0, at), ...m.garbage, ...payload.subarray(at)]));
    }
    case "header":
      return Uint8Array.from([...m.header, ...payload]);
  }
}

/** A whole WebSocket frame: a structured message, then one mutation (or none). */
export const frame: fc.Arbitrary<{ reply: Reply; mutation: Mutation; bytes: Uint8Array }> = fc
  .tuple(serverToAgent, mutation)
  .map(([reply, m]) => ({ reply, mutation: m, bytes: mutate(encodeReply(reply), m) }));
