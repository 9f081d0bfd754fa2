/**
 * The supervised image (deploy/Dockerfile: supervisor and collector in one container) run as
 * the shipped Deployment, through every container scenario; the shipped DaemonSet connects,
 * is healthy and says goodbye too. Also what the image promises by itself: a non-root user,
 * tini as PID 1, a HEALTHCHECK that passes, and a ConfigMap equal to the image's defaults.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ROOT } from "../e2e/harness.js";
import { until } from "../interop/peers.js";
import { down, downAll, loadManifest } from "./kube.js";
import { podman } from "./podman.js";
import { agent, container, exec, leftovers, startPod, stateFile, stopServers, supervisorLog, testImages } from "./pods.js";
import type { Pod, Shape } from "./pods.js";
import { containerScenarios } from "./scenarios.js";

async function pidfile(pod: Pod): Promise<number | undefined> {
  try {
    return (JSON.parse(await stateFile(pod, "collector.pid")) as { pid?: number }).pid;
  } catch {
    return undefined;
  }
}

function supervisedShape(title: string, workload: string): Shape {
  return {
    title,
    manifests: ["configmap.yaml", workload],
    images: (i) => ({ supervisor: i.supervised }),
    supervisor: "supervisor",
    // agent.passthrough_logs: the collector's lines are in the supervisor's log.
    collectorLines: async (pod) => (await supervisorLog(pod)).filter((l) => l["component"] === "collector").map((l) => l.msg),
    collectorPid: pidfile,
    killCollector: async (pod) => {
      const pid = await pidfile(pod);
      if (pid === undefined) throw new Error("no collector pid");
      await exec(pod, "supervisor", ["sh", "-c", `kill -KILL ${pid}`]);
    },
  };
}

const deployment = supervisedShape("supervised image as the shipped Deployment", "deployment.yaml");
const daemonset = supervisedShape("supervised image as the shipped DaemonSet", "daemonset.yaml");

containerScenarios(deployment);

describe("containers: the supervised image itself", () => {
  afterEach(async () => {
    await downAll();
    await stopServers();
  });

  it("the ConfigMap carries the image's own supervisor.yaml and collector.yaml", () => {
    const cm = loadManifest("configmap.yaml")[0]!;
    expect(cm["data"]["supervisor.yaml"]).toBe(readFileSync(join(ROOT, "deploy/supervisor.yaml"), "utf8"));
    expect(cm["data"]["collector.yaml"]).toBe(readFileSync(join(ROOT, "deploy/collector.yaml"), "utf8"));
  });

  it("runs as uid 10001 under tini, and its HEALTHCHECK passes once the collector is healthy", async () => {
    const pod = await startPod(deployment);
    expect((await exec(pod, "supervisor", ["id", "-u"])).trim()).toBe("10001");
    const pid1 = await exec(pod, "supervisor", ["cat", "/proc/1/cmdline"]);
    expect(pid1.split("\0")[0]).toBe("/usr/bin/tini");
    const image = testImages().supervised;
    const hc = (await podman(["image", "inspect", "--format", "{{json .Config.Healthcheck}}", image])).stdout;
    expect(hc).toContain("OTELCOL_HEALTH_URL");
    // podman runs the image's HEALTHCHECK on demand here (no systemd timers).
    const run = await until("podman healthcheck run to pass", async () => {
      const r = await podman(["healthcheck", "run", container(pod, "supervisor")], { allowFail: true });
      return r.code === 0 ? r : undefined;
    }, 30_000, 500);
    expect(run.code).toBe(0);
    const logLines = await supervisorLog(pod);
    expect(logLines.some((l) => l["component"] === "collector")).toBe(true);
  });

  it("the shipped DaemonSet: connects, healthy, and says goodbye when its pod stops", async () => {
    const pod = await startPod(daemonset);
    expect((await agent(pod)).health?.healthy).toBe(true);
    await down(pod.played);
    await until("the agent disconnected", async () => (await agent(pod)).disconnected, 30_000, 200);
    expect((await pod.server.messages(pod.uid)).at(-1)?.message.agent_disconnect).toBeDefined();
    expect(await leftovers(pod.played)).toEqual([]);
  });
});
