/**
 * The container scenarios, written once for every shape (the supervised image, the sidecar
 * pod): connect and report healthy; a remote config applied (effective config and an OTLP
 * trace through the collector); an invalid config refused with the collector untouched; a
 * crashing config rolled back; the collector killed -> restarted and reported; the pod
 * stopped -> agent_disconnect and nothing left.
 */
import { createServer } from "node:net";
import type { AddressInfo, Server } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { sendTrace, until } from "../interop/peers.js";
import { down, downAll } from "./kube.js";
import { agent, health, leftovers, startPod, stateFile, stopServers, waitHealthy } from "./pods.js";
import type { Shape } from "./pods.js";

const blockers: Server[] = [];

/** A remote file adding a detailed debug exporter named debug/<marker> to the traces pipeline. */
function markedRemote(marker: string, extra = ""): string {
  return `exporters:
  debug/${marker}:
    verbosity: detailed
service:
  pipelines:
    traces:
      exporters: [debug, debug/${marker}]
${extra}`;
}

/** Holds a loopback port so that the collector (on the host's network) cannot bind it. */
async function takenPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  blockers.push(server);
  return (server.address() as AddressInfo).port;
}

export function containerScenarios(shape: Shape): void {
  describe(`containers: ${shape.title}`, () => {
    afterEach(async () => {
      await downAll();
      await stopServers();
      for (const b of blockers.splice(0)) await new Promise((r) => b.close(r));
    });

    it("connects and reports healthy with the local config as its effective config", async () => {
      const pod = await startPod(shape);
      const a = await agent(pod);
      expect(a.connected).toBe(true);
      expect(a.health?.healthy).toBe(true);
      const effective = await until("the effective config", async () => (await agent(pod)).effective_config[""]);
      expect(effective).toContain(`127.0.0.1:${pod.otlpHttpPort}`);
      expect(effective).toBe(await stateFile(pod, "effective.yaml"));
      expect((await health(pod))?.status).toBe(200);
    });

    it("applies a remote config: APPLIED, the effective config reported, an OTLP trace through the collector", async () => {
      const pod = await startPod(shape);
      const hash = await pod.server.push(pod.uid, { "remote.yaml": markedRemote("good") });
      const a = await pod.server.waitStatus(pod.uid, hash, "APPLIED", 60_000);
      expect(a.remote_config_status?.error_message).toBe("");
      const reported = await until("the effective config with debug/good", async () => {
        const e = (await agent(pod)).effective_config[""];
        return e?.includes("debug/good") ? e : undefined;
      });
      expect(reported).toBe(await stateFile(pod, "effective.yaml"));

      await waitHealthy(pod);
      const span = `container-span-${Date.now()}`;
      expect(await sendTrace(pod.otlpHttpPort, span)).toBe(200);
      // The remote exporter (not only the local one) exported it: its "Traces" line names it.
      await until(
        "the span exported by debug/good",
        async () => {
          const lines = await shape.collectorLines(pod);
          return (
            lines.some((l) => l.includes(`Name           : ${span}`)) &&
            lines.some((l) => l.includes("Traces") && l.includes('"otelcol.component.id": "debug/good"'))
          );
        },
        30_000,
        500,
      );
    });

    it("refuses a config the collector's validate rejects and leaves the running collector untouched", async () => {
      const pod = await startPod(shape);
      const before = await stateFile(pod, "effective.yaml");
      const pid = await shape.collectorPid(pod);
      const upSince = (await waitHealthy(pod)).upSince;
      const bad = "service:\n  pipelines:\n    traces:\n      receivers: [otlp, nope]\n";
      const hash = await pod.server.push(pod.uid, { "remote.yaml": bad });
      const a = await pod.server.waitStatus(pod.uid, hash, "FAILED", 60_000);
      expect(a.remote_config_status?.error_message).toContain('references receiver "nope" which is not configured');
      expect(await shape.collectorPid(pod)).toBe(pid);
      expect((await health(pod))?.upSince).toBe(upSince);
      expect(await stateFile(pod, "effective.yaml")).toBe(before);
      expect((await agent(pod)).health?.healthy).toBe(true);
    });

    it("rolls back a config that validates but cannot start (its port is taken) and is healthy again", async () => {
      const pod = await startPod(shape);
      const before = await stateFile(pod, "effective.yaml");
      const port = await takenPort();
      const remote = markedRemote(
        "blocked",
        `receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:${port}\n`,
      );
      const hash = await pod.server.push(pod.uid, { "remote.yaml": remote });
      const a = await pod.server.waitStatus(pod.uid, hash, "FAILED", 90_000);
      const bindError = `127.0.0.1:${port}: bind: address already in use`;
      if (shape.outputInReports) expect(a.remote_config_status?.error_message).toContain(bindError);
      else {
        // The collector's output is not the supervisor's to read: the report says where it is.
        expect(a.remote_config_status?.error_message).toMatch(
          /collector exited.*\n.*its output is in that container's log/s,
        );
        await until(
          "the bind error in the collector's own log",
          async () => (await shape.collectorLines(pod)).some((l) => l.includes(bindError)),
          30_000,
          200,
        );
      }
      // FAILED goes out before the rollback; how the rollback went is in the audit log.
      await until(
        "the rollback's audit line",
        async () =>
          (await stateFile(pod, "audit.log"))
            .split("\n")
            .some((l) => l.includes('"remote-config-rolled-back"') && l.includes('"result":"healthy"')),
        60_000,
        200,
      );
      await waitHealthy(pod);
      expect(await stateFile(pod, "effective.yaml")).toBe(before);
      await until(
        "the agent healthy on the restored config",
        async () => {
          const now = await agent(pod);
          return now.health?.healthy === true && now.effective_config[""] === before;
        },
        30_000,
        200,
      );
      const span = `after-rollback-${Date.now()}`;
      expect(await sendTrace(pod.otlpHttpPort, span)).toBe(200);
    });

    it("restarts a killed collector and reports it unhealthy, then healthy again", async () => {
      const pod = await startPod(shape);
      const pid = await until("the collector's pid", () => shape.collectorPid(pod));
      const from = await pod.server.lastSeq();
      await shape.killCollector(pod);
      const newPid = await until(
        "a new collector process",
        async () => {
          const p = await shape.collectorPid(pod);
          return p !== undefined && p !== pid ? p : undefined;
        },
        60_000,
        200,
      );
      expect(newPid).not.toBe(pid);
      await waitHealthy(pod, 60_000);
      await until(
        "unhealthy, then healthy again, reported to the server",
        async () => {
          const reports = (await pod.server.messages(pod.uid, from))
            .filter((x) => x.message.health)
            .map((x) => x.message.health?.healthy === true);
          const down = reports.indexOf(false);
          return down >= 0 && reports.slice(down).includes(true);
        },
        60_000,
        200,
      );
    });

    it("stopped pod: the server hears agent_disconnect and nothing is left", async () => {
      const pod = await startPod(shape);
      await down(pod.played);
      const a = await until(
        "the agent disconnected",
        async () => {
          const now = await agent(pod);
          return now.disconnected ? now : undefined;
        },
        30_000,
        200,
      ).catch((err: unknown) => {
        throw new Error(
          `${(err as Error).message}\n--- last logs ---\n${JSON.stringify(pod.played.lastLogs, null, 1)}`,
        );
      });
      expect(a.connected).toBe(false);
      const last = (await pod.server.messages(pod.uid)).at(-1);
      expect(last?.message.agent_disconnect).toBeDefined();
      expect(await leftovers(pod.played)).toEqual([]);
      expect(await health(pod)).toBeUndefined();
    });
  });
}
