/**
 * Init containers on this machine's podman (4.3). Its `kube play` gives init containers the
 * pod's restartPolicy: under `Always` an init container that exits 0 is started again, and the
 * play fails with "failed to remove once init container ... as it is running"
 * (containers/podman#15631, fixed in podman 4.6 by #18481). Kubernetes runs them once.
 *
 * So the test runs each init container itself, once, before the pod, the way the kubelet would:
 * same image, args, env, user, read-only root and mounts; the emptyDir volumes it shares with
 * the pod become a podman named volume (a persistentVolumeClaim in the played pod, which podman
 * maps to the volume of that name), and ConfigMap volumes a directory of their files.
 * The pod is then played without its init containers.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { podman } from "./podman.js";

type Obj = Record<string, any>;

export interface InitRun {
  /** Container name in the manifest -> podman container name (kept until clean-up, for inspection). */
  containers: Record<string, string>;
  /** Named volumes that stand in for the emptyDirs. */
  volumes: string[];
}

/**
 * Runs the init containers of `docs`' pod spec and rewrites the docs so the pod shares their
 * volumes and has no init containers. `dir` holds the ConfigMaps' files.
 */
export async function runInitContainers(docs: Obj[], spec: Obj, suffix: string, dir: string): Promise<InitRun> {
  const inits = (spec["initContainers"] ?? []) as Obj[];
  const result: InitRun = { containers: {}, volumes: [] };
  if (inits.length === 0) return result;
  const sources = new Map<string, string>(); // volume name -> podman -v source
  for (const v of (spec["volumes"] ?? []) as Obj[]) {
    const name = v["name"] as string;
    if (v["emptyDir"] && !v["emptyDir"]["medium"]) {
      const volume = `${name}-${suffix}`;
      await podman(["volume", "create", volume]);
      result.volumes.push(volume);
      sources.set(name, volume);
      delete v["emptyDir"];
      v["persistentVolumeClaim"] = { claimName: volume };
    } else if (v["configMap"]) {
      const map = docs.find((d) => d["kind"] === "ConfigMap" && d["metadata"]["name"] === v["configMap"]["name"]);
      const files = join(dir, `configmap-${name}`);
      await mkdir(files, { recursive: true });
      for (const [file, text] of Object.entries((map?.["data"] ?? {}) as Record<string, string>))
        await writeFile(join(files, file), text, { mode: 0o644 });
      sources.set(name, files);
    }
  }
  const security = (spec["securityContext"] ?? {}) as Obj;
  for (const ctr of inits) {
    const name = `init-${ctr["name"] as string}-${suffix}`;
    const args = ["run", "--name", name, "--network", "host", "--pull", "never"];
    const user = ctr["securityContext"]?.["runAsUser"] ?? security["runAsUser"];
    const group = ctr["securityContext"]?.["runAsGroup"] ?? security["runAsGroup"];
    if (user !== undefined)
      args.push("--user", group !== undefined ? `${String(user)}:${String(group)}` : String(user));
    if (ctr["securityContext"]?.["readOnlyRootFilesystem"]) args.push("--read-only");
    args.push("--cap-drop", "ALL", "--security-opt", "no-new-privileges");
    for (const e of (ctr["env"] ?? []) as Obj[]) args.push("--env", `${e["name"] as string}=${String(e["value"])}`);
    for (const m of (ctr["volumeMounts"] ?? []) as Obj[]) {
      const source = sources.get(m["name"] as string);
      if (!source)
        throw new Error(
          `init container ${String(ctr["name"])}: volume ${String(m["name"])} is not an emptyDir or a ConfigMap`,
        );
      args.push("-v", `${source}:${m["mountPath"] as string}${m["readOnly"] ? ":ro" : ""}`);
    }
    args.push(ctr["image"] as string, ...((ctr["args"] ?? []) as string[]));
    const out = await podman(args, { allowFail: true, timeoutMs: 120_000 });
    result.containers[ctr["name"] as string] = name;
    if (out.code !== 0)
      throw new Error(`init container ${String(ctr["name"])} exited with ${out.code}:\n${out.stdout}${out.stderr}`);
  }
  delete spec["initContainers"];
  return result;
}
