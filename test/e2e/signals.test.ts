/** No signal kills the supervisor silently: SIGUSR1/2 and SIGPIPE are logged and ignored; SIGHUP reloads the local config. */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { OpampTestServer } from "../support/opamp-test-server.js";
import { writeFile } from "node:fs/promises";
import { BASE_COLLECTOR, auditLines, makeWorkspace, startSupervisor, waitForStub } from "./harness.js";
import { eventually } from "../support/fake-clock.js";
import type { RunningSupervisor } from "./harness.js";

let server: OpampTestServer;
let sup: RunningSupervisor | undefined;
beforeEach(async () => {
  server = await OpampTestServer.start();
});
afterEach(async () => {
  await sup?.kill();
  await server.close();
});

describe("signals", () => {
  it("ignores SIGUSR1, SIGUSR2 and SIGPIPE with a log line each (SIGHUP reloads), , keeps its collector and keeps reporting", async () => {
    const ws = await makeWorkspace({ endpoint: server.wsUrl });
    sup = startSupervisor(ws);
    await server.waitFor((r) => r.msg.health?.healthy === true, { timeoutMs: 15_000 });
    const before = await waitForStub(ws);
    for (const name of ["SIGUSR1", "SIGUSR2", "SIGPIPE", "SIGHUP"] as const) {
      sup.child.kill(name);
      await sup.log((l) => l["signal"] === name);
    }
    expect(sup.child.exitCode).toBeNull();
    expect((await waitForStub(ws)).pid).toBe(before.pid);
    // Still talking to the server: a restart command is carried out.
    server.push({ command: {} });
    await waitForStub(ws, (s) => s.healthy && s.pid !== before.pid);
    expect((await sup.stop()).code).toBe(0);
  });

  it("re-reads agent.config_files on SIGHUP: a changed composition is applied and proven, a bad one refused with the collector untouched", async () => {
    const ws = await makeWorkspace({ endpoint: server.wsUrl });
    sup = startSupervisor(ws);
    await server.waitFor((r) => r.msg.health?.healthy === true, { timeoutMs: 15_000 });
    const before = await waitForStub(ws);
    expect(before.config).not.toHaveProperty(["service", "pipelines", "logs"]);

    // A good edit: a second pipeline.
    await writeFile(
      ws.collectorConfigPath,
      `${BASE_COLLECTOR}    logs:\n      receivers: [otlp]\n      exporters: [debug]\n`,
    );
    sup.child.kill("SIGHUP");
    const reloaded = await waitForStub(
      ws,
      (s) => s.healthy && s.config["service"] !== undefined && JSON.stringify(s.config).includes('"logs"'),
    );
    const applied = await eventually(
      async () =>
        (await auditLines(ws)).find((l) => l["action"] === "local-config-reload" && l["result"] === "applied"),
      10_000,
      "the reload's audit line",
    );
    expect(applied["mode"]).toBeTruthy();
    const reported = await server.waitFor(
      (r) => new TextDecoder().decode(r.msg.effectiveConfig?.configMap?.configMap[""]?.body).includes("logs:"),
      { timeoutMs: 10_000 },
    );
    expect(reported).toBeDefined();

    // A bad edit: an exporter the collector does not have. validate refuses; nothing changes.
    await writeFile(
      ws.collectorConfigPath,
      BASE_COLLECTOR.replace("debug: {}", "debug: {}\n  nosuchexporter: {}").replace(
        "exporters: [debug]",
        "exporters: [nosuchexporter]",
      ),
    );
    sup.child.kill("SIGHUP");
    const refused = await eventually(
      async () => (await auditLines(ws)).find((l) => l["action"] === "local-config-reload" && l["result"] === "failed"),
      10_000,
      "the refused reload's audit line",
    );
    expect(String(refused["reason"])).toContain("nosuchexporter");
    const after = await waitForStub(ws);
    expect(after.pid).toBe(reloaded.pid);
    expect(after.configHash).toBe(reloaded.configHash);
    expect(sup.child.exitCode).toBeNull();
  });
});
