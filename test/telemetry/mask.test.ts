import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { toPackageStatuses } from "../../src/upgrade/statuses.js";
import { createLogger } from "../../src/telemetry/logger.js";
import { MASK, createMasker, secretsOf } from "../../src/telemetry/mask.js";
import { resolve } from "../config/helpers.js";

const config = resolve(`
server:
  endpoint: wss://opamp.example:4320/v1/opamp
  headers:
    Authorization: Basic ${Buffer.from("agent:hunter2-basic").toString("base64")}
    X-Api-Key: key-0123456789
agent:
  executable: /usr/bin/otelcol
  env:
    DB_PASSWORD: "p@ss\\"word-42"
    GOMAXPROCS: "2"
`);

describe("secret masking", () => {
  const masker = createMasker(secretsOf(config));

  it("masks agent.env values, header values and the credentials inside them, and not the scheme", () => {
    const text = [
      'Error: cannot connect to db with password p@ss"word-42',
      "auth header key-0123456789 was refused",
      "basic user agent:hunter2-basic, or just hunter2-basic",
    ].join("\n");
    const masked = masker.mask(text);
    for (const secret of ['p@ss"word-42', "key-0123456789", "hunter2-basic"]) expect(masked).not.toContain(secret);
    expect(masked).toContain(`password ${MASK}`);
    expect(masked).toContain(`header ${MASK} was`);
  });

  it("leaves short values alone so ordinary text survives", () => {
    expect(masker.mask("using 2 cores")).toBe("using 2 cores");
  });

  it("masks a secret in every log line, also inside JSON-escaped strings and error messages", () => {
    let out = "";
    const sink = new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        out += chunk.toString();
        cb();
      },
    });
    const logger = createLogger("debug", sink, masker);
    logger.warn({ tail: 'collector said: password=p@ss"word-42' }, "collector failed");
    logger.error({ err: new Error("header key-0123456789 rejected") }, "oops");
    logger.info("plain line with hunter2-basic inside");
    expect(out).not.toMatch(/word-42|key-0123456789|hunter2-basic/);
    expect(out.split("\n").filter(Boolean)).toHaveLength(3);
    for (const line of out.split("\n").filter(Boolean)) expect(() => JSON.parse(line) as unknown).not.toThrow();
    expect(out).toContain(MASK);
  });

  it("masks INSTALL_FAILED messages (they carry the collector's log tail) on their way to the server", () => {
    const failed = {
      name: "otelcol",
      agentHasVersion: "0.1.0",
      agentHasHash: new Uint8Array(0),
      serverOfferedVersion: "0.2.0",
      serverOfferedHash: new Uint8Array([1]),
      status: "INSTALL_FAILED" as const,
      errorMessage: 'rolled back; collector log tail:\nError: db password p@ss"word-42 refused',
    };
    const wire = toPackageStatuses(
      { serverProvidedAllPackagesHash: new Uint8Array(0), errorMessage: "", packages: { otelcol: failed } },
      new Map(),
      (t) => masker.mask(t),
    );
    expect(wire.packages["otelcol"]?.errorMessage).toBe(
      `rolled back; collector log tail:\nError: db password ${MASK} refused`,
    );
  });
});
