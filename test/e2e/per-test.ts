/**
 * A fresh OpAMP test server for each test of a file, and the supervisors a test started with
 * `launch`, all stopped after it: the set-up most e2e files share.
 */
import { afterEach, beforeEach } from "vitest";
import { OpampTestServer } from "../support/opamp-test-server.js";
import { startSupervisor } from "./harness.js";
import type { RunningSupervisor, Workspace } from "./harness.js";

export interface PerTest {
  /** This test's server (only inside a test). */
  readonly server: OpampTestServer;
  launch(ws: Workspace, env?: Record<string, string>): RunningSupervisor;
}

export function perTest(): PerTest {
  let server: OpampTestServer | undefined;
  const running: RunningSupervisor[] = [];
  beforeEach(async () => {
    server = await OpampTestServer.start();
  });
  afterEach(async () => {
    for (const sup of running.splice(0)) await sup.kill();
    await server?.close();
    server = undefined;
  });
  return {
    get server(): OpampTestServer {
      if (!server) throw new Error("the test server exists only inside a test");
      return server;
    },
    launch(ws: Workspace, env: Record<string, string> = {}): RunningSupervisor {
      const sup = startSupervisor(ws, env);
      running.push(sup);
      return sup;
    },
  };
}
