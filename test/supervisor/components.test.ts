import { describe, expect, it } from "vitest";
import { AgentCapabilities } from "../../src/gen/opamp_pb.js";
import type { Logger } from "../../src/deps.js";
import type { AvailableComponents } from "../../src/opamp/domain.js";
import { reportAvailableComponents } from "../../src/supervisor/components.js";
import { FakeClock } from "../support/fake-clock.js";
import { MINIMAL, resolve } from "../config/helpers.js";

const BIT = BigInt(AgentCapabilities.AgentCapabilities_ReportsAvailableComponents);
const config = resolve(`${MINIMAL}capabilities:\n  reports_available_components: true\n`);
const inventory = (type: string): string =>
  `receivers:\n    - name: ${type}\n      module: m/${type} v1\nexporters: []\n`;

function harness(outputs: Array<string | Error>) {
  const sent: AvailableComponents[] = [];
  const capabilities: bigint[] = [];
  const warnings: string[] = [];
  const logger = {
    debug() {},
    info() {},
    error() {},
    warn: (fields: { reason?: string }) => warnings.push(fields.reason ?? ""),
    child: () => logger,
  } as unknown as Logger;
  const options = {
    config,
    driver: {
      components: async () => {
        const next = outputs.shift();
        if (next instanceof Error) throw next;
        return next ?? "";
      },
    },
    client: {
      setStatus: (_key: string, value: AvailableComponents) => void sent.push(value),
      setCapabilities: (bits: bigint) => void capabilities.push(bits),
    },
    logger,
    clock: new FakeClock(),
  } as unknown as Parameters<typeof reportAvailableComponents>[0];
  return { options, sent, capabilities, warnings };
}

describe("reportAvailableComponents", () => {
  it("reports the inventory and turns the bit on; a re-read after an upgrade reports the new hash", async () => {
    const h = harness([inventory("otlp"), inventory("kafka")]);
    expect(await reportAvailableComponents(h.options, new AbortController().signal)).toBe(true);
    expect(await reportAvailableComponents(h.options, new AbortController().signal)).toBe(true);
    expect(h.sent.map((c) => Object.keys(c.components["receivers"]!.subComponents))).toEqual([["otlp"], ["kafka"]]);
    expect(Buffer.from(h.sent[0]!.hash).equals(Buffer.from(h.sent[1]!.hash))).toBe(false);
    expect(h.capabilities.map((bits) => bits & BIT)).toEqual([BIT, BIT]);
  });

  it("turns the bit off, reporting nothing, when the new binary has no `components` or prints garbage", async () => {
    const h = harness([
      inventory("otlp"),
      new Error("components failed (code 1): unknown command"),
      "Usage: otelcol [flags]\n",
    ]);
    await reportAvailableComponents(h.options, new AbortController().signal);
    expect(await reportAvailableComponents(h.options, new AbortController().signal)).toBe(false);
    expect(await reportAvailableComponents(h.options, new AbortController().signal)).toBe(false);
    expect(h.sent).toHaveLength(1);
    expect(h.capabilities.map((bits) => bits & BIT)).toEqual([BIT, 0n, 0n]);
    expect(h.warnings).toEqual([
      expect.stringMatching(/unknown command/),
      expect.stringMatching(/unexpected `components` output/),
    ]);
  });

  it("does nothing when the capability is off", async () => {
    const h = harness([inventory("otlp")]);
    expect(
      await reportAvailableComponents({ ...h.options, config: resolve(MINIMAL) }, new AbortController().signal),
    ).toBe(false);
    expect(h.sent).toEqual([]);
    expect(h.capabilities).toEqual([]);
  });
});
