/**
 * The sidecar pod (deploy/kubernetes/sidecar.yaml: an init container running
 * `opamp-supervisor init-config`, the collector in its own container from a FROM scratch
 * collector image, the supervisor next to it with agent.run: sidecar, one shared emptyDir and a
 * shared process namespace) through every container scenario, plus what only this shape promises.
 */
import { afterEach, describe, expect, it } from "vitest";
import { until } from "../interop/peers.js";
import { downAll } from "./kube.js";
import { podman } from "./podman.js";
import { agent, container, logs, startPod, stopServers, waitHealthy } from "./pods.js";
import type { Pod, Shape } from "./pods.js";
import { containerScenarios } from "./scenarios.js";

/** The collector container's main process as the host sees it (changes when it restarts). */
async function collectorHostPid(pod: Pod): Promise<number | undefined> {
  const out = await podman(["inspect", "--format", "{{.State.Pid}}", container(pod, "collector")], { allowFail: true });
  const pid = Number(out.stdout.trim());
  return out.code === 0 && pid > 0 ? pid : undefined;
}

async function inspect(pod: Pod, name: string, format: string): Promise<string> {
  return (await podman(["inspect", "--format", format, container(pod, name)])).stdout.trim();
}

const sidecar: Shape = {
  title: "the shipped sidecar pod",
  manifests: ["sidecar.yaml"],
  images: (i) => ({ "init-config": i.supervised, supervisor: i.supervised, collector: i.collector }),
  supervisor: "supervisor",
  collectorLines: async (pod) => (await logs(pod, "collector")).split("\n"),
  collectorPid: collectorHostPid,
  // Its main process from the host, as an OOM kill would: the container's restart policy then
  // starts it again (a `podman kill` counts as stopped by the user and is not restarted).
  killCollector: async (pod) => {
    const pid = await collectorHostPid(pod);
    if (pid === undefined) throw new Error("the collector container has no process to kill");
    process.kill(pid, "SIGKILL");
  },
  outputInReports: false,
};

containerScenarios(sidecar);

describe("containers: what only the sidecar pod promises", () => {
  afterEach(async () => {
    await downAll();
    await stopServers();
  });

  it("the init container wrote the config before the collector started: no collector restart at start", async () => {
    const pod = await startPod(sidecar);
    expect(await inspect(pod, "init-config", "{{.State.ExitCode}}")).toBe("0");
    expect(await inspect(pod, "collector", "{{.RestartCount}}")).toBe("0");
    expect((await agent(pod)).health?.healthy).toBe(true);
  });

  it("a good config is reloaded with SIGHUP: the same collector process, a new service start", async () => {
    const pod = await startPod(sidecar);
    const pid = await collectorHostPid(pod);
    const upSince = (await waitHealthy(pod)).upSince;
    const hash = await pod.server.push(pod.uid, {
      "remote.yaml":
        "exporters:\n  debug/hup: {}\nservice:\n  pipelines:\n    traces:\n      exporters: [debug, debug/hup]\n",
    });
    await pod.server.waitStatus(pod.uid, hash, "APPLIED", 60_000);
    expect(await collectorHostPid(pod)).toBe(pid);
    await until("a new service start", async () => (await waitHealthy(pod)).upSince !== upSince, 30_000, 200);
  });

  it("a stop of the supervisor's container alone leaves the collector running; the next supervisor attaches to it", async () => {
    const pod = await startPod(sidecar);
    const pid = await collectorHostPid(pod);
    await podman(["stop", "--time", String(pod.played.gracePeriodSeconds), container(pod, "supervisor")]);
    expect(await inspect(pod, "supervisor", "{{.State.ExitCode}}")).toBe("0");
    expect((await agent(pod)).disconnected).toBe(true);
    expect(await inspect(pod, "collector", "{{.State.Status}}")).toBe("running");
    expect(await collectorHostPid(pod)).toBe(pid);

    const from = await pod.server.lastSeq();
    await podman(["start", container(pod, "supervisor")]);
    await until(
      "the supervisor back, reporting healthy",
      async () => (await pod.server.messages(pod.uid, from)).some((m) => m.message.health?.healthy === true),
      60_000,
      200,
    );
    expect(await collectorHostPid(pod)).toBe(pid);
    expect(await inspect(pod, "collector", "{{.RestartCount}}")).toBe("0");
  });

  it("does not accept packages in a sidecar, even when configured to, and says why at start", async () => {
    const pod = await startPod(sidecar, (c) => {
      c["capabilities"]["accepts_packages"] = true;
      c["agent"]["package"] = { verifier: { insecure_accept_unsigned_packages: true } };
    });
    const AcceptsPackages = 0x8;
    expect((await agent(pod)).capabilities & AcceptsPackages).toBe(0);
    expect(await logs(pod, "supervisor")).toMatch(/sidecar/i);
  });
});
