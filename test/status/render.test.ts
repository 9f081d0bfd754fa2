/** The status screen: one row per value, even when a value quotes multi-line collector output. */
import { describe, expect, it } from "vitest";
import type { StatusReport } from "../../src/status/read.js";
import { renderStatus } from "../../src/status/render.js";

const NOW = Date.parse("2026-01-01T00:01:00.000Z");
const REFUSAL =
  "collector rejected the config: Error: decoding failed due to the following error(s):\n\n'receivers' unknown type: \"nope\"";

function report(): StatusReport {
  return {
    source: "endpoint",
    stateDir: "/var/lib/otelcol/supervisor",
    live: {
      status: "ok",
      version: "0.1.0",
      instanceUid: "01a2",
      startedAt: "2026-01-01T00:00:00.000Z",
      connection: {
        state: "connected",
        endpoint: "ws://h/v1/opamp",
        since: "2026-01-01T00:00:01.000Z",
        lastError: null,
        lastErrorAt: null,
      },
      collector: {
        version: "0.149.0",
        pid: 42,
        healthy: true,
        status: "StatusOK",
        since: "2026-01-01T00:00:02.000Z",
        restarts: 1,
        lastError: "health check answered HTTP 500",
        lastErrorAt: "2026-01-01T00:00:40.000Z",
      },
      remoteConfig: { hash: "beef", status: "FAILED", at: "2026-01-01T00:00:30.000Z", error: REFUSAL },
      availableComponents: null,
    },
    offline: null,
    certificates: [],
    audit: [{ time: "2026-01-01T00:00:30.000Z", action: "remote-config-failed", result: "failed", reason: REFUSAL }],
  };
}

describe("renderStatus", () => {
  it("keeps a multi-line failure on its row, whitespace folded, in the block and in the audit line", () => {
    const screen = renderStatus(report(), NOW);
    const folded = `collector rejected the config: Error: decoding failed due to the following error(s): 'receivers' unknown type: "nope"`;
    expect(screen).toContain(`  last failure  ${folded}\n`);
    expect(screen).toContain(`remote-config-failed  failed  reason=${folded}\n`);
    expect(screen).not.toMatch(/^'receivers'/m);
    expect(screen).toMatch(/^ {2}status +FAILED, 2026-01-01T00:00:30\.000Z \(30s ago\)$/m);
  });

  it("gives a kept error its time, and a dash when there is none", () => {
    const screen = renderStatus(report(), NOW);
    expect(screen).toMatch(
      /^Collector\n(?: {2}.*\n)*? {2}last error {2}2026-01-01T00:00:40\.000Z \(20s ago\): health check answered HTTP 500$/m,
    );
    expect(screen).toMatch(/^Connection\n(?: {2}.*\n)*? {2}last error {2}-$/m);
  });
});
