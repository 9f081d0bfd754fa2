/**
 * A shipped manifest running under podman against a real OpAMP server, and what a user would
 * look at: the server's view, the containers' logs, the state files, the collector's health.
 * One `Shape` per way of running (the supervised image; the sidecar pod), so the scenarios are
 * written once.
 */
import { randomUUID } from "node:crypto";
import { inject } from "vitest";
import type { TestImages } from "./images.js";
import { forTest, loadManifest, play } from "./kube.js";
import type { Played, TestSettings } from "./kube.js";
import { podman } from "./podman.js";
import { OpampServer, freePort, until } from "../interop/peers.js";
import type { AgentView } from "../interop/peers.js";

export const STATE_DIR = "/var/lib/otelcol/supervisor";

export interface Pod {
  server: OpampServer;
  played: Played;
  shape: Shape;
  uid: string;
  healthPort: number;
  otlpHttpPort: number;
  /** ms from `podman kube play` to the server hearing the agent healthy. */
  startToHealthyMs: number;
}

export interface Shape {
  title: string;
  /** Files under deploy/kubernetes/, played together. */
  manifests: string[];
  /** Container name in the manifest -> image to run. */
  images(images: TestImages): Record<string, string>;
  /** The container the supervisor runs in. */
  supervisor: string;
  /** The collector's output lines. */
  collectorLines(pod: Pod): Promise<string[]>;
  /** An id of the running collector process that changes when it is restarted. */
  collectorPid(pod: Pod): Promise<number | undefined>;
  killCollector(pod: Pod): Promise<void>;
  /** Whether FAILED reports can carry the collector's output (false: it is in another container's log). */
  outputInReports: boolean;
}

/** The images the global setup built; throws the reason when the suite cannot run here. */
export function testImages(): TestImages {
  const provided = inject("images");
  if ("unavailable" in provided) throw new Error(`container suite cannot run here: ${provided.unavailable}`);
  return provided;
}

let counter = 0;
const servers: OpampServer[] = [];

/** Starts a server, plays the shape's manifests against it, waits for a healthy agent. */
export async function startPod(shape: Shape, supervisorPatch?: TestSettings["supervisorPatch"]): Promise<Pod> {
  const server = await OpampServer.start();
  servers.push(server);
  const [healthPort, otlpGrpcPort, otlpHttpPort] = [await freePort(), await freePort(), await freePort()];
  const suffix = `t${process.pid}-${++counter}`;
  const instanceId = randomUUID();
  const docs = forTest(shape.manifests.flatMap(loadManifest), {
    suffix,
    instanceId,
    images: shape.images(testImages()),
    endpoint: server.wsUrl,
    healthPort,
    otlpGrpcPort,
    otlpHttpPort,
    ...(supervisorPatch ? { supervisorPatch } : {}),
  });
  const played = await play(docs, suffix);
  const agent = await healthyAgent(server, played, shape.supervisor, instanceId, 90_000);
  const startToHealthyMs = Date.now() - played.startedAt;
  console.log(`[containers] ${shape.title}: start to healthy ${(startToHealthyMs / 1000).toFixed(1)} s`);
  return { server, played, shape, uid: agent.instance_uid, healthPort, otlpHttpPort, startToHealthyMs };
}

/** This pod's agent once the server hears it healthy; fails at once (with its log) when the supervisor's container has exited. */
async function healthyAgent(
  server: OpampServer,
  played: Played,
  supervisor: string,
  uid: string,
  timeoutMs: number,
): Promise<AgentView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = (await server.agents()).find((a) => a.instance_uid === uid && a.health?.healthy === true);
    if (found) return found;
    const state = (
      await podman(["inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", container(played, supervisor)], {
        allowFail: true,
      })
    ).stdout.trim();
    const why = state.startsWith("exited")
      ? `the supervisor's container exited (${state})`
      : Date.now() > deadline
        ? `no healthy agent after ${timeoutMs} ms`
        : undefined;
    if (why) throw new Error(`${why}\n--- supervisor log ---\n${await logs(played, supervisor)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function stopServers(): Promise<void> {
  for (const s of servers.splice(0)) await s.stop();
}

export function container(pod: Pod | Played, name: string): string {
  const played = "played" in pod ? pod.played : pod;
  const ctr = played.containers[name];
  if (!ctr) throw new Error(`no container ${name} in the pod (have ${Object.keys(played.containers).join(", ")})`);
  return ctr;
}

/** `podman logs` of a container of the pod (stdout and stderr). */
export async function logs(pod: Pod | Played, name: string): Promise<string> {
  const out = await podman(["logs", container(pod, name)], { allowFail: true });
  return out.stdout + out.stderr;
}

/** The supervisor's JSON log lines. */
export async function supervisorLog(pod: Pod): Promise<Array<Record<string, unknown> & { msg: string }>> {
  return (await logs(pod, pod.shape.supervisor))
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown> & { msg: string });
}

export async function exec(pod: Pod, name: string, argv: string[]): Promise<string> {
  return (await podman(["exec", container(pod, name), ...argv])).stdout;
}

/** A file of the supervisor's state directory, read inside its container. */
export function stateFile(pod: Pod, file: string): Promise<string> {
  return exec(pod, pod.shape.supervisor, ["cat", `${STATE_DIR}/${file}`]);
}

export interface Health {
  status: number;
  upSince: string;
}

/** The collector's health_check, reached from the host (the pod shares its network). */
export async function health(pod: Pod): Promise<Health | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${pod.healthPort}/`, { signal: AbortSignal.timeout(1_000) });
    const body = (await res.json()) as { upSince?: string };
    return { status: res.status, upSince: body.upSince ?? "" };
  } catch {
    return undefined;
  }
}

export function waitHealthy(pod: Pod, timeoutMs = 30_000): Promise<Health> {
  return until(
    "the collector's health_check to answer 200",
    async () => {
      const h = await health(pod);
      return h?.status === 200 ? h : undefined;
    },
    timeoutMs,
    100,
  );
}

export function agent(pod: Pod): Promise<AgentView> {
  return pod.server.agent(pod.uid);
}

/** Everything podman still has of the pod: the pod itself, its containers, its volumes. */
export async function leftovers(played: Played): Promise<string[]> {
  const left: string[] = [];
  const volumes = (await podman(["volume", "ls", "--format", "{{.Name}}"])).stdout.split("\n").filter(Boolean);
  for (const v of volumes) if (v.includes(played.suffix)) left.push(`volume ${v}`);
  if ((await podman(["pod", "exists", played.podId], { allowFail: true })).code === 0) left.push(`pod ${played.podId}`);
  for (const name of Object.values(played.containers)) {
    if ((await podman(["container", "exists", name], { allowFail: true })).code === 0) left.push(`container ${name}`);
  }
  return left;
}
