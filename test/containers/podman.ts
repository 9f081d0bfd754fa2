/**
 * Podman as this machine kind needs it (see the README section "Running in containers and
 * Kubernetes"): runc instead of crun, cgroupfs, and a containers.conf without default ulimits.
 * Every podman call of the container suite goes through `podman()`.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { missingPeers } from "../interop/peers.js";

/** Where the suite keeps its own files between runs (containers.conf); never in the repo. */
export const CACHE_DIR = join(tmpdir(), "opamp-supervisor-containers");

const GLOBAL_FLAGS = ["--runtime", "runc", "--cgroup-manager=cgroupfs"];

/** CONTAINERS_CONF from the environment when set, else ours with `default_ulimits = []`. */
function containersConf(): string {
  const given = process.env["CONTAINERS_CONF"];
  if (given) return given;
  const file = join(CACHE_DIR, "containers.conf");
  if (!existsSync(file)) {
    mkdirSync(CACHE_DIR, { recursive: true });
    writeFileSync(
      file,
      "[containers]\n# podman's default ulimits cannot be set without CAP_SYS_RESOURCE\ndefault_ulimits = []\n",
    );
  }
  return file;
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string | Buffer;
  timeoutMs?: number;
  /** Resolve with a non-zero code instead of throwing. */
  allowFail?: boolean;
}

export interface PodmanOptions extends RunOptions {
  /** Run under `nice -n 10` (builds: the machine is shared). */
  nice?: boolean;
}

/** Runs any command; throws with its output on a non-zero exit unless allowFail. */
export function run(
  cmd: string,
  args: string[],
  options: RunOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      args,
      { env, maxBuffer: 64 * 1024 * 1024, timeout: options.timeoutMs ?? 120_000, encoding: "utf8" },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        const result = { code, stdout, stderr };
        if (code !== 0 && !options.allowFail) {
          reject(
            new Error(
              `${cmd} ${args.join(" ")} exited with ${code}${err?.killed ? " (timed out)" : ""}:\n${stderr || stdout}`,
            ),
          );
        } else resolve(result);
      },
    );
    if (options.input !== undefined) child.stdin!.end(options.input);
  });
}

export function podman(args: string[], options: PodmanOptions = {}): Promise<Run> {
  const env = { ...process.env, CONTAINERS_CONF: containersConf() };
  const argv = ["podman", ...GLOBAL_FLAGS, ...args];
  return options.nice ? run("nice", ["-n", "10", ...argv], options, env) : run(argv[0]!, argv.slice(1), options, env);
}

function onPath(name: string): boolean {
  return (process.env["PATH"] ?? "").split(delimiter).some((dir) => dir && existsSync(join(dir, name)));
}

/** Why the container suite cannot run here, or undefined. */
export function containersUnavailable(): string | undefined {
  const tools = ["podman", "runc", "debootstrap"].filter((t) => !onPath(t) && !existsSync(`/usr/sbin/${t}`));
  if (tools.length > 0) return `${tools.join(", ")} not installed (apt-get install -y podman runc debootstrap)`;
  if (process.getuid?.() !== 0) return "needs root (debootstrap and rootful podman)";
  return missingPeers();
}

/** true when podman has an image with this exact name:tag. */
export async function imageExists(tag: string): Promise<boolean> {
  return (await podman(["image", "exists", tag], { allowFail: true })).code === 0;
}
