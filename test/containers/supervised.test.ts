/**
 * The supervised image (deploy/Dockerfile: supervisor and collector in one container) run as
 * the shipped Deployment, through every container scenario; the shipped DaemonSet connects,
 * is healthy and says goodbye too. Also what the image promises by itself, run as a plain
 * container (`podman kube play` does not carry an image's HEALTHCHECK): a non-root user, tini
 * as PID 1, a HEALTHCHECK that passes, a clean stop; and a ConfigMap equal to the image's defaults.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ROOT } from "../e2e/harness.js";
import { OpampServer, freePort, until } from "../interop/peers.js";
import { down, downAll, loadManifest, testCollectorYaml, testSupervisorYaml } from "./kube.js";
import { podman } from "./podman.js";
import { agent, exec, leftovers, startPod, stateFile, stopServers, supervisorLog, testImages } from "./pods.js";
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
    collectorLines: async (pod) =>
      (await supervisorLog(pod)).filter((l) => l["component"] === "collector").map((l) => l.msg),
    collectorPid: pidfile,
    killCollector: async (pod) => {
      const pid = await pidfile(pod);
      if (pid === undefined) throw new Error("no collector pid");
      await exec(pod, "supervisor", ["sh", "-c", `kill -KILL ${pid}`]);
    },
    outputInReports: true,
  };
}

const deployment = supervisedShape("supervised image as the shipped Deployment", "deployment.yaml");
const daemonset = supervisedShape("supervised image as the shipped DaemonSet", "daemonset.yaml");

containerScenarios(deployment);

describe("containers: the supervised image itself", () => {
  const servers: OpampServer[] = [];
  const plain: string[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    await downAll();
    await stopServers();
    // --volumes: the anonymous volume of the image's VOLUME goes with the container.
    for (const name of plain.splice(0)) await podman(["rm", "--force", "--volumes", name], { allowFail: true });
    for (const s of servers.splice(0)) await s.stop();
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  it("the ConfigMap carries the image's own supervisor.yaml and collector.yaml", () => {
    const cm = loadManifest("configmap.yaml")[0]!;
    expect(cm["data"]["supervisor.yaml"]).toBe(readFileSync(join(ROOT, "deploy/supervisor.yaml"), "utf8"));
    expect(cm["data"]["collector.yaml"]).toBe(readFileSync(join(ROOT, "deploy/collector.yaml"), "utf8"));
  });

  it("run as a plain container: uid 10001 under tini, its HEALTHCHECK passes, a clean stop says goodbye", async () => {
    const image = testImages().supervised;
    const server = await OpampServer.start();
    servers.push(server);
    const settings = {
      suffix: "",
      instanceId: randomUUID(),
      images: {},
      endpoint: server.wsUrl,
      healthPort: await freePort(),
      otlpGrpcPort: await freePort(),
      otlpHttpPort: await freePort(),
    };
    const dir = await mkdtemp(join(tmpdir(), "opamp-image-"));
    dirs.push(dir);
    await chmod(dir, 0o755);
    await writeFile(
      join(dir, "supervisor.yaml"),
      testSupervisorYaml(readFileSync(join(ROOT, "deploy/supervisor.yaml"), "utf8"), settings),
    );
    await writeFile(
      join(dir, "collector.yaml"),
      testCollectorYaml(readFileSync(join(ROOT, "deploy/collector.yaml"), "utf8"), settings),
    );
    const name = `opamp-image-t${process.pid}`;
    plain.push(name);
    await podman([
      "run",
      "-d",
      "--name",
      name,
      "--network=host",
      "-e",
      `OPAMP_ENDPOINT=${server.wsUrl}`,
      "-e",
      `OTELCOL_HEALTH_URL=http://127.0.0.1:${settings.healthPort}/`,
      "-v",
      `${dir}:/etc/opamp-supervisor:ro`,
      image,
    ]);
    const a = await server.waitAgent((x) => x.health?.healthy === true, 90_000, "a healthy agent");

    expect((await podman(["exec", name, "id", "-u"])).stdout.trim()).toBe("10001");
    expect((await podman(["exec", name, "cat", "/proc/1/cmdline"])).stdout.split("\0")[0]).toBe("/usr/bin/tini");
    // The compile cache baked in at build time, where the image's Node has one (>= 22.1), for
    // the uid that runs (Node keeps one subdirectory per uid: `<version>-<arch>-<hash>-<uid>`).
    const [cacheDir, cached] = (
      await podman([
        "exec",
        name,
        "sh",
        "-c",
        'echo "$NODE_COMPILE_CACHE"; find "$NODE_COMPILE_CACHE" -path "*-$(id -u)/*" -type f | wc -l',
      ])
    ).stdout
      .trim()
      .split("\n");
    expect(cacheDir).toBe("/opt/opamp-supervisor/node-compile-cache");
    const nodeHasCache = (
      await podman(["exec", name, "node", "-p", 'typeof require("node:module").enableCompileCache'])
    ).stdout.trim();
    expect(Number(cached) > 0).toBe(nodeHasCache === "function");
    // podman runs the image's HEALTHCHECK on demand (no systemd timers here).
    const hc = await until(
      "podman healthcheck run to pass",
      async () => {
        const r = await podman(["healthcheck", "run", name], { allowFail: true });
        return r.code === 0 ? r : undefined;
      },
      30_000,
      500,
    );
    expect(hc.code).toBe(0);
    expect((await podman(["inspect", "--format", "{{.State.Health.Status}}", name])).stdout.trim()).toBe("healthy");
    // The same check fails when nothing healthy answers at its URL.
    const test = JSON.parse(
      (await podman(["image", "inspect", "--format", "{{json .Config.Healthcheck.Test}}", image])).stdout,
    ) as string[];
    expect(test[0]).toBe("CMD");
    const closed = await freePort();
    const failing = await podman(
      ["exec", "-e", `OTELCOL_HEALTH_URL=http://127.0.0.1:${closed}/`, name, ...test.slice(1)],
      { allowFail: true },
    );
    expect(failing.code).not.toBe(0);

    // docker stop / podman stop: SIGTERM to tini, forwarded to the supervisor only.
    await podman(["stop", "--time", "30", name], { timeoutMs: 60_000 });
    expect((await podman(["inspect", "--format", "{{.State.ExitCode}}", name])).stdout.trim()).toBe("0");
    await until("the agent disconnected", async () => (await server.agent(a.instance_uid)).disconnected, 10_000, 200);
    expect((await server.messages(a.instance_uid)).at(-1)?.message.agent_disconnect).toBeDefined();
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
