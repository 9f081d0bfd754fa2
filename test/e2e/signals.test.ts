/** No signal kills the supervisor silently: SIGUSR1/2, SIGPIPE and SIGHUP are logged and ignored. */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { OpampTestServer } from "../support/opamp-test-server.js";
import { makeWorkspace, startSupervisor, waitForStub } from "./harness.js";
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
  it("ignores SIGUSR1, SIGUSR2, SIGPIPE and SIGHUP with a log line each, keeps its collector and keeps reporting", async () => {
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
});
