import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "../../src/telemetry/logger.js";

describe("log lines", () => {
  it("carry the level as a label, as the collector's JSON logs do", () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString("utf8"));
        done();
      },
    });
    const logger = createLogger("debug", sink);
    logger.debug("d");
    logger.info({ n: 1 }, "i");
    logger.warn("w");
    logger.error("e");
    expect(lines.map((line) => (JSON.parse(line) as { level: unknown }).level)).toEqual([
      "debug",
      "info",
      "warn",
      "error",
    ]);
  });
});
