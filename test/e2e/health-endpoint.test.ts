/**
 * healthcheck.endpoint: GET /health is the supervisor's liveness (200 while it runs, the
 * status snapshot as the body), `?ready` its readiness (503 while the collector is not
 * healthy); no secret from supervisor.yaml ever appears in it; it closes with the supervisor.
 */
import { describe, expect, it } from "vitest";
import type { StatusView } from "../../src/supervisor/status-snapshot.js";
import { eventually } from "../support/fake-clock.js";
import { BASE_COLLECTOR, freePort, makeWorkspace, waitForStub } from "./harness.js";
import { perTest } from "./per-test.js";

const SECRET = "s3cret-token-value";
const t = perTest();

async function get(port: number, path: string): Promise<{ code: number; text: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2_000) });
  return { code: res.status, text: await res.text() };
}

/** The body once `match` holds (the snapshot follows events; poll the endpoint, not a timer). */
async function healthWhen(port: number, match: (v: StatusView) => boolean): Promise<StatusView> {
  return eventually(
    async () => {
      const r = await get(port, "/health").catch(() => undefined);
      const view = r ? (JSON.parse(r.text) as StatusView) : undefined;
      return view && match(view) ? view : undefined;
    },
    10_000,
    "a matching /health body",
  );
}

describe("GET /health", () => {
  it("reports connection, collector and remote config, without secrets, and closes on shutdown", async () => {
    const port = await freePort();
    const ws = await makeWorkspace({
      endpoint: `${t.server.wsUrl}?token=${SECRET}`,
      serverExtra: `  headers:\n    Authorization: ["Bearer ${SECRET}"]\n`,
      extra: `healthcheck:\n  endpoint: 127.0.0.1:${port}\n`,
    });
    const sup = t.launch(ws);
    const stub = await waitForStub(ws);
    const view = await healthWhen(port, (v) => v.connection.state === "connected" && v.collector.healthy);
    expect(view.status).toBe("ok");
    expect(view.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(view.collector).toMatchObject({ pid: stub.pid, healthy: true, version: stub.version, restarts: 0 });
    expect(view.connection.endpoint).toBe(t.server.wsUrl);
    expect(view.remoteConfig).toMatchObject({ status: "UNSET", hash: null });
    expect(Date.parse(view.connection.since ?? "")).not.toBeNaN();
    const raw = await get(port, "/health");
    expect(raw.code).toBe(200);
    expect(raw.text).not.toContain(SECRET);
    expect((await get(port, "/health?ready")).code).toBe(200);
    expect((await get(port, "/other")).code).toBe(404);

    await sup.stop();
    await expect(get(port, "/health")).rejects.toThrow();
  });

  it("stays 200 for liveness while the collector is unhealthy; ?ready answers 503", async () => {
    const port = await freePort();
    const ws = await makeWorkspace({
      endpoint: t.server.wsUrl,
      collectorYaml: `${BASE_COLLECTOR}stub:\n  healthy_after_ms: 600000\n`,
      extra: `healthcheck:\n  endpoint: 127.0.0.1:${port}\n`,
    });
    t.launch(ws);
    const view = await healthWhen(port, (v) => v.collector.pid !== null && v.collector.status !== "not started");
    expect(view.status).toBe("degraded");
    expect(view.collector.healthy).toBe(false);
    expect((await get(port, "/health")).code).toBe(200);
    expect((await get(port, "/health?ready")).code).toBe(503);
  });
});
