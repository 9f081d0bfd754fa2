/**
 * The shipped manifests under deploy/kubernetes/, made runnable on this machine and played
 * with `podman kube play`. What the test changes, and only that:
 * - names get a per-run suffix (nothing here touches pods it did not create);
 * - images: the locally built ones, never pulled;
 * - the pod uses the host's network (the test server listens on the host's loopback), so the
 *   collector's and the health ports become free ports and container ports are dropped;
 * - the server endpoint and the health interval (small, so that the suite waits for events
 *   instead of seconds);
 * - a DaemonSet is played as the Pod of its template (podman 4 plays Pods and Deployments);
 * - init containers are run by the test, once, before the pod (podman 4.3 restarts them: see
 *   init-containers.ts), their emptyDirs shared with the pod as a named volume.
 * Everything else (security contexts, volumes, probes, resources, the configs' other keys)
 * runs as shipped.
 */
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, parseAllDocuments, stringify } from "yaml";
import { ROOT } from "../e2e/harness.js";
import { runInitContainers } from "./init-containers.js";
import type { InitRun } from "./init-containers.js";
import { podman } from "./podman.js";

export const KUBE_DIR = join(ROOT, "deploy/kubernetes");

/** A manifest document: free-form YAML, read the way kubectl would. */
type Obj = Record<string, any>;

export function loadManifest(file: string): Obj[] {
  return parseAllDocuments(readFileSync(join(KUBE_DIR, file), "utf8"))
    .map((d) => d.toJS() as Obj)
    .filter((d) => d !== null);
}

export interface TestSettings {
  suffix: string;
  /** Image for each container name of the manifest (containers and init containers). */
  images: Record<string, string>;
  endpoint: string;
  healthPort: number;
  otlpGrpcPort: number;
  otlpHttpPort: number;
  /**
   * The pod's agent.instance_id: the test knows its agent among any other the server hears
   * (a supervisor of an earlier pod that is still going away could reach a server on a
   * reused port).
   */
  instanceId: string;
  /** A scenario's own change to supervisor.yaml, after the test's. */
  supervisorPatch?: (config: Obj) => void;
}

function podSpecOf(doc: Obj): Obj | undefined {
  if (doc["kind"] === "Pod") return doc["spec"] as Obj;
  if (doc["kind"] === "Deployment" || doc["kind"] === "DaemonSet") return doc["spec"]["template"]["spec"] as Obj;
  return undefined;
}

/** supervisor.yaml with the test's health port and intervals (and a scenario's own change). */
export function testSupervisorYaml(text: string, s: TestSettings): string {
  const c = parse(text) as Obj;
  c["agent"]["health"] = {
    ...c["agent"]["health"],
    endpoint: `0.0.0.0:${s.healthPort}`,
    interval: "200ms",
    request_timeout: "500ms",
  };
  c["agent"]["restart"] = { initial_delay: "200ms", max_delay: "2s" };
  c["agent"]["instance_id"] = s.instanceId;
  s.supervisorPatch?.(c);
  return stringify(c);
}

/** The collector config with the test's OTLP ports and no internal metrics endpoint. */
export function testCollectorYaml(text: string, s: TestSettings): string {
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
      if (data["supervisor.yaml"]) data["supervisor.yaml"] = testSupervisorYaml(data["supervisor.yaml"], s);
      if (data["collector.yaml"]) data["collector.yaml"] = testCollectorYaml(data["collector.yaml"], s);
      return doc;
    }
    const spec = podSpecOf(doc);
    if (!spec) return doc;
    spec["hostNetwork"] = true;
    for (const ctr of [...((spec["initContainers"] ?? []) as Obj[]), ...(spec["containers"] as Obj[])])
      patchContainer(ctr, s);
    for (const v of (spec["volumes"] ?? []) as Obj[]) {
      if (v["configMap"])
        v["configMap"]["name"] = renamed.get(v["configMap"]["name"] as string) ?? v["configMap"]["name"];
    }
    if (doc["kind"] === "DaemonSet") {
      const template = doc["spec"]["template"] as Obj;
      return {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { ...template["metadata"], name: doc["metadata"]["name"] },
        spec,
      };
    }
    return doc;
  });
}

export interface Played {
  file: string;
  /** The per-run suffix of every name the play created. */
  suffix: string;
  podId: string;
  /** Container name in the manifest -> podman container name. */
  containers: Record<string, string>;
  /** Podman volumes that hold the played ConfigMaps (`podman kube down` keeps them). */
  configMapVolumes: string[];
  /** The init containers the test ran itself, and their volumes (see init-containers.ts). */
  init: InitRun;
  /** The pod's terminationGracePeriodSeconds (Kubernetes' default 30 when absent). */
  gracePeriodSeconds: number;
  /** Wall-clock ms when `podman kube play` was started. */
  startedAt: number;
  /** What each app container printed, kept by down() before the containers are removed. */
  lastLogs?: Record<string, string>;
}

const cleanups: Array<() => Promise<void>> = [];

/** Writes the documents to a temp file and plays them; `down()` (or `downAll()`) removes them. */
export async function play(docs: Obj[], suffix: string): Promise<Played> {
  const dir = await mkdtemp(join(tmpdir(), "opamp-kube-"));
  const file = join(dir, "manifest.yaml");
  const configMapVolumes = docs.filter((d) => d["kind"] === "ConfigMap").map((d) => d["metadata"]["name"] as string);
  const init: InitRun = { containers: {}, volumes: [] };
  cleanups.push(async () => {
    // No grace period here: this is clean-up after a test, not a scenario.
    await podman(["kube", "down", file], { allowFail: true, timeoutMs: 60_000 });
    for (const v of configMapVolumes) await podman(["volume", "rm", "--force", v], { allowFail: true });
    await removeInit(init, true);
    await rm(dir, { recursive: true, force: true });
  });
  const startedAt = Date.now();
  for (const doc of docs) {
    const spec = podSpecOf(doc);
    if (!spec) continue;
    const ran = await runInitContainers(docs, spec, suffix, dir).catch(async (err: unknown) => {
      throw new Error(`${String(err)}${await containerLogs(suffix)}`);
    });
    Object.assign(init.containers, ran.containers);
    init.volumes.push(...ran.volumes);
  }
  await writeFile(file, docs.map((d) => stringify(d, { aliasDuplicateObjects: false })).join("---\n"));
  const out = await podman(["kube", "play", file], { timeoutMs: 120_000 }).catch(async (err: unknown) => {
    throw new Error(`${String(err)}${await containerLogs(suffix)}`);
  });
  const podId = /Pod:\s*\n([0-9a-f]{64})/.exec(out.stdout)?.[1];
  if (!podId) throw new Error(`podman kube play printed no pod id:\n${out.stdout}\n${out.stderr}`);
  const names = (await podman(["ps", "-a", "--filter", `pod=${podId}`, "--format", "{{.Names}}"])).stdout
    .split("\n")
    .filter(Boolean);
  const containers: Record<string, string> = {};
  let gracePeriodSeconds = 30;
  for (const doc of docs) {
    const spec = podSpecOf(doc);
    if (typeof spec?.["terminationGracePeriodSeconds"] === "number")
      gracePeriodSeconds = spec["terminationGracePeriodSeconds"];
    for (const ctr of [...((spec?.["initContainers"] ?? []) as Obj[]), ...((spec?.["containers"] ?? []) as Obj[])]) {
      const n = ctr["name"] as string;
      const match = names.find((p) => p.endsWith(`-${n}`));
      if (match) containers[n] = match;
    }
  }
  return {
    file,
    suffix,
    podId,
    containers: { ...init.containers, ...containers },
    configMapVolumes,
    init,
    gracePeriodSeconds,
    startedAt,
  };
}

/** The logs of every container whose name has the suffix (why a play failed). */
async function containerLogs(suffix: string): Promise<string> {
  const names = (await podman(["ps", "-a", "--format", "{{.Names}}"], { allowFail: true })).stdout
    .split("\n")
    .filter((n) => n.includes(suffix));
  let text = "";
  for (const n of names) {
    const l = await podman(["logs", n], { allowFail: true });
    text += `\n--- ${n} ---\n${(l.stdout + l.stderr).slice(-4_000)}`;
  }
  return text;
}

/**
 * What the kubelet does when a pod is deleted: SIGTERM, then SIGKILL after the pod's grace
 * period (`podman pod stop --time`; podman 4's `kube down` alone gave the supervisor no time to
 * say goodbye). Then `podman kube down` of what `play` created, and the ConfigMaps' volumes,
 * which podman 4 keeps (`kubectl delete -f` deletes the ConfigMap too).
 */
export async function down(played: Played): Promise<void> {
  // The app containers first, all at once, as the kubelet does: the pod's infra process is
  // PID 1 of a shared PID namespace, and when it goes the kernel SIGKILLs everything in it.
  const time = String(played.gracePeriodSeconds);
  const timeoutMs = (played.gracePeriodSeconds + 30) * 1000;
  const apps = Object.entries(played.containers).filter(([name]) => !(name in played.init.containers));
  await Promise.all(apps.map(([, ctr]) => podman(["stop", "--time", time, ctr], { allowFail: true, timeoutMs })));
  // Kept for a failing test's report: `kube down` removes the containers and their logs.
  played.lastLogs = {};
  for (const [name, ctr] of apps) {
    const out = await podman(["logs", "--tail", "40", ctr], { allowFail: true });
    played.lastLogs[name] = out.stdout + out.stderr;
  }
  await podman(["pod", "stop", "--time", time, played.podId], { timeoutMs });
  await podman(["kube", "down", played.file], { timeoutMs: 60_000 });
  for (const v of played.configMapVolumes) await podman(["volume", "rm", v]);
  await removeInit(played.init, false);
}

/** The init containers, then the volumes they shared with the pod (which must be down first). */
async function removeInit(init: InitRun, allowFail: boolean): Promise<void> {
  for (const name of Object.values(init.containers)) await podman(["rm", "--force", name], { allowFail });
  for (const v of init.volumes) await podman(["volume", "rm", "--force", v], { allowFail });
}

/** Clean-up for afterEach: removes whatever this process played and has not removed yet. */
export async function downAll(): Promise<void> {
  for (const c of cleanups.splice(0)) await c();
}
