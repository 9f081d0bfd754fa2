/**
 * Crash safety of the upgrade: the supervisor SIGKILLs itself at each named step of the
 * transaction (OPAMP_SUPERVISOR_TEST_HALT_AT). At the next start a working binary must be at
 * the executable path, and the reported package status must match what runs.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { UpgradeCheckpoint } from "../../src/upgrade/index.js";
import { generateKeyPair } from "../../src/upgrade/keys.js";
import { OpampTestServer } from "../support/opamp-test-server.js";
import { PackageFileServer } from "../support/package-file-server.js";
import {
  S,
  enablePackages,
  isStatus,
  makeUpgradeWorkspace,
  pushOffer,
  signedOffer,
  statusOf,
  stubBuild,
  waitForStatus,
} from "../upgrade/e2e-support.js";
import { startSupervisor, waitForStub } from "./harness.js";
import type { RunningSupervisor } from "./harness.js";

const key = generateKeyPair();
let server: OpampTestServer;
let files: PackageFileServer;
const running: RunningSupervisor[] = [];

beforeEach(async () => {
  server = await OpampTestServer.start();
  enablePackages(server);
  files = await PackageFileServer.start();
});
afterEach(async (ctx) => {
  // On failure, show what the supervisors said about the upgrade: timing problems are easier to read that way.
  if (ctx.task.result?.state === "fail") {
    const lines = running.flatMap((sup) =>
      sup.logs.filter((l) => l["component"] === "upgrade" || l.level === "warn" || l.level === "error"),
    );
    console.log(
      lines.map((l) => JSON.stringify(l).slice(0, 300)).join("\n"),
      JSON.stringify(files.requests.map((r) => [r.path, r.range, r.status])),
    );
  }
  for (const sup of running.splice(0)) await sup.kill();
  await files.close();
  await server.close();
});

const STEPS: Array<[UpgradeCheckpoint, "old" | "new"]> = [
  ["package-received", "old"],
  ["package-downloaded", "old"],
  ["package-preflighted", "old"],
  ["package-journaled", "old"],
  ["package-backed-up", "old"],
  ["package-swapped", "old"],
  ["package-restarted", "old"],
  ["package-proven", "new"],
  ["package-installed", "new"],
  ["package-rolled-back", "old"],
];

describe("crash safety: the supervisor killed inside an upgrade", () => {
  it.each(STEPS)(
    "killed at %s, it comes back running the %s binary and reports it truthfully",
    async (step, expected) => {
      const ws = await makeUpgradeWorkspace({ endpoint: server.wsUrl, key });
      const sup = startSupervisor(ws, { OPAMP_SUPERVISOR_TEST_HALT_AT: step });
      running.push(sup);
      await waitForStub(ws, (s) => s.healthy && s.version === "0.1.0");
      // The collector can be healthy before the supervisor has connected: a push then would be lost.
      await server.waitFor(() => true, { timeoutMs: 10_000 });
      const unhealthy = step === "package-rolled-back";
      const body = await stubBuild("0.2.0", unhealthy ? "unhealthy" : "ok");
      const offer = signedOffer(body, key, files.serve("/pkg", { body }), "0.2.0", new Uint8Array([0x77]));
      pushOffer(server, offer, new Uint8Array([1]));
      expect((await sup.exited).signal).toBe("SIGKILL");

      running.push(startSupervisor(ws));
      const reconnect = await server.waitFor((r) => r.connection === 2 && statusOf(r) !== undefined, {
        timeoutMs: 10_000,
      });
      const reported = statusOf(reconnect)!;
      const version = expected === "new" ? "0.2.0" : "0.1.0";
      const state = await waitForStub(ws, (s) => s.healthy);
      expect(state.version).toBe(version);
      // The first report may still carry the version from disk; the settled one has the truth.
      const settled = await waitForStatus(server, (s) => s.agentHasVersion === version, {
        from: server.received.indexOf(reconnect),
      });
      expect(statusOf(settled)?.status).toBe(
        expected === "new" ? S.PackageStatusEnum_Installed : S.PackageStatusEnum_InstallFailed,
      );
      expect(reported.status).not.toBe(S.PackageStatusEnum_Installing);
      expect(reported.status).not.toBe(S.PackageStatusEnum_Downloading);
      if (expected === "new") return;

      const from = pushOffer(server, offer, new Uint8Array([1]));
      if (unhealthy) {
        expect(reported.errorMessage).toMatch(/did not prove healthy/);
        const refused = await waitForStatus(server, isStatus(S.PackageStatusEnum_InstallFailed, offer.hash), { from });
        expect(statusOf(refused)?.errorMessage).toMatch(/failed before/);
        return;
      }
      // Interrupted is not the package's fault: offered again, it goes through.
      expect(reported.errorMessage).toMatch(/^interrupted/);
      await waitForStatus(server, isStatus(S.PackageStatusEnum_Installed, offer.hash), { from });
      await waitForStub(ws, (s) => s.healthy && s.version === "0.2.0");
    },
  );
});
