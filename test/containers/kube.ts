/**
 * The shipped manifests under deploy/kubernetes/, made runnable on this machine and played
 * with `podman kube play`. What the test changes, and only that:
 * - names get a per-run suffix (nothing here touches pods it did not create);
 * - images: the locally built ones, never pulled;
 * - the pod uses the host's network (the test server listens on the host's loopback), so the
 *   collector's and the health ports become free ports and container ports are dropped;
 * - the server endpoint and the health interval (small, so that the suite waits for events
 *   instead of seconds);
 * - a DaemonSet is played as the Pod of its template (podman 4 plays Pods and Deployments).
 * Everything else (security contexts, volumes, probes, resources, the configs' other keys)
 * runs as shipped.
 */
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, parseAllDocuments, stringify } from "yaml";
import { ROOT } from "../e2e/harness.js";
import { podman } from "./podman.js";

export const KUBE_DIR = join(ROOT, "deploy/kubernetes");

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export function loadManifest(file: string): Obj[] {
  return parseAllDocuments(readFileSync(join(KUBE_DIR, file), "utf8")).map((d) => d.toJS() as Obj).filter((d) => d !== null);
}

export interface TestSettings {
  suffix: string;
  /** Image for each container name of the manifest (containers and init containers). */
  images: Record<string, string>;
  endpoint: string;
  healthPort: number;
  otlpGrpcPort: number;
  otlpHttpPort: number;
  /** A scenario's own change to supervisor.yaml, after the test's. */
  supervisorPatch?: (config: Obj) => void;
}

function podSpecOf(doc: Obj): Obj | undefined {
  if (doc["kind"] === "Pod") return doc["spec"] as Obj;
  if (doc["kind"] === "Deployment" || doc["kind"] === "DaemonSet") return doc["spec"]["template"]["spec"] as Obj;
  return undefined;
}

function patchSupervisorYaml(text: string, s: TestSettings): string {
  const c = parse(text) as Obj;
  c["agent"]["health"] = { ...c["agent"]["health"], endpoint: `0.0.0.0:${s.healthPort}`, interval: "200ms", request_timeout: "500ms" };
  c["agent"]["restart"] = { initial_delay: "200ms", max_delay: "2s" };
  s.supervisorPatch?.(c);
  return stringify(c);
}

function patchCollectorYaml(text: string, s: TestSettings): string {
  const c = parse(text) as Obj;
  c["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"] = `127.0.0.1:${s.otlpGrpcPort}`;
  c["receivers"]["otlp"]["protocols"]["http"]["endpoint"] = `127.0.0.1:${s.otlpHttpPort}`;
  // The internal metrics endpoint (:8888 by default) would be shared with the whole host.
  c["service"]["telemetry"] = { metrics: { level: "none" } };
  return stringify(c);
}

function patchContainer(ctr: Obj, s: TestSettings): void {
  const image = s.images[ctr["name"] as string];
  if (!image) throw new Error(`no test image for container ${String(ctr["name"])}`);
  ctr["image"] = image;
  ctr["imagePullPolicy"] = "Never";
  delete ctr["ports"];
  for (const e of (ctr["env"] ?? []) as Obj[]) if (e["name"] === "OPAMP_ENDPOINT") e["value"] = s.endpoint;
  for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
    if (ctr[probe]?.httpGet) ctr[probe].httpGet.port = s.healthPort;
  }
}

/** The manifests' documents with the test's changes (see the file comment). */
export function forTest(docs: Obj[], s: TestSettings): Obj[] {
  const renamed = new Map<string, string>();
  for (const doc of docs) {
    const name = `${doc["metadata"]["name"] as string}-${s.suffix}`;
    if (doc["kind"] === "ConfigMap") renamed.set(doc["metadata"]["name"] as string, name);
    doc["metadata"]["name"] = name;
  }
  return docs.map((doc) => {
    if (doc["kind"] === "ConfigMap") {
      const data = doc["data"] as Record<string, string>;
      if (data["supervisor.yaml"]) data["supervisor.yaml"] = patchSupervisorYaml(data["supervisor.yaml"], s);
      if (data["collector.yaml"]) data["collector.yaml"] = patchCollectorYaml(data["collector.yaml"], s);
      return doc;
    }
    const spec = podSpecOf(doc);
    if (!spec) return doc;
    spec["hostNetwork"] = true;
    for (const ctr of [...((spec["initContainers"] ?? []) as Obj[]), ...(spec["containers"] as Obj[])]) patchContainer(ctr, s);
    for (const v of (spec["volumes"] ?? []) as Obj[]) {
      if (v["configMap"]) v["configMap"]["name"] = renamed.get(v["configMap"]["name"] as string) ?? v["configMap"]["name"];
    }
    if (doc["kind"] === "DaemonSet") {
      const template = doc["spec"]["template"] as Obj;
      return { apiVersion: "v1", kind: "Pod", metadata: { ...template["metadata"], name: doc["metadata"]["name"] }, spec };
    }
    return doc;
  });
}

export interface Played {
  file: string;
  podId: string;
  /** Container name in the manifest -> podman container name. */
  containers: Record<string, string>;
  /** Wall-clock ms when `podman kube play` was started. */
  startedAt: number;
}

const cleanups: Array<() => Promise<void>> = [];

/** Writes the documents to a temp file and plays them; `down()` (or `downAll()`) removes them. */
export async function play(docs: Obj[]): Promise<Played> {
  const dir = await mkdtemp(join(tmpdir(), "opamp-kube-"));
  const file = join(dir, "manifest.yaml");
  await writeFile(file, docs.map((d) => stringify(d, { aliasDuplicateObjects: false })).join("---\n"));
  cleanups.push(async () => {
    await podman(["kube", "down", file], { allowFail: true, timeoutMs: 60_000 });
    await rm(dir, { recursive: true, force: true });
  });
  const startedAt = Date.now();
  const out = await podman(["kube", "play", file], { timeoutMs: 120_000 });
  const podId = /Pod:\s*\n([0-9a-f]{64})/.exec(out.stdout)?.[1];
  if (!podId) throw new Error(`podman kube play printed no pod id:\n${out.stdout}\n${out.stderr}`);
  const names = (await podman(["ps", "-a", "--filter", `pod=${podId}`, "--format", "{{.Names}}"])).stdout.split("\n").filter(Boolean);
  const containers: Record<string, string> = {};
  for (const doc of docs) {
    const spec = podSpecOf(doc);
    for (const ctr of [...((spec?.["initContainers"] ?? []) as Obj[]), ...((spec?.["containers"] ?? []) as Obj[])]) {
      const n = ctr["name"] as string;
      const match = names.find((p) => p.endsWith(`-${n}`));
      if (match) containers[n] = match;
    }
  }
  return { file, podId, containers, startedAt };
}

/** `podman kube down` of what `play` created (the pod, its containers, its volumes). */
export async function down(played: Played): Promise<void> {
  await podman(["kube", "down", played.file], { timeoutMs: 60_000 });
}

/** Clean-up for afterEach: removes whatever this process played and has not removed yet. */
export async function downAll(): Promise<void> {
  for (const c of cleanups.splice(0)) await c();
}
