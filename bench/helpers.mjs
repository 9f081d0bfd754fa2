// Small helpers shared by figures 2–6: polling the stub, reading /proc, log timestamps,
// workspace edits and cleanup. Everything is loopback and bounded in time.
import { execFileSync } from "node:child_process";
import { readFile, rm, writeFile } from "node:fs/promises";
import { sleep } from "./lib.mjs";

/** Polls `probe` every `everyMs` until it returns a truthy value; undefined after `timeoutMs`. */
export async function pollUntil(probe, { everyMs = 10, timeoutMs = 20_000 } = {}) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (performance.now() > deadline) return undefined;
    await sleep(everyMs);
  }
}

/** True when the stub's health endpoint answers 200. */
export async function healthOk(port) {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(300) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

/** Milliseconds since the epoch of a supervisor log line (pino ISO `time`, ms resolution). */
export const logTime = (line) => Date.parse(String(line?.time ?? ""));

/** The first log line from index `from` on whose msg matches. */
export const findLog = (sup, msg, from = 0) =>
  sup.logs.slice(from).find((l) => (msg instanceof RegExp ? msg.test(l.msg) : l.msg === msg));

/** Rewrites supervisor.yaml with `edit(text)`; throws if the edit changed nothing. */
export async function editSupervisorYaml(ws, edit) {
  const before = await readFile(ws.configPath, "utf8");
  const after = edit(before);
  if (after === before) throw new Error("supervisor.yaml edit did not apply (harness layout changed?)");
  await writeFile(ws.configPath, after);
}

export async function removeWorkspace(ws) {
  await rm(ws.dir, { recursive: true, force: true }).catch(() => undefined);
}

let ticks;
/** Clock ticks per second for /proc/<pid>/stat (getconf CLK_TCK, normally 100). */
export function clockTicks() {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

/** RSS, peak RSS (KiB) and CPU seconds (user + system) of one process, from /proc. */
export async function procSample(pid) {
  const [status, stat] = await Promise.all([
    readFile(`/proc/${pid}/status`, "utf8"),
    readFile(`/proc/${pid}/stat`, "utf8"),
  ]);
  const kib = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  // Fields after "(comm)": state is field 3, utime 14, stime 15 (1-based, proc(5)).
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return {
    at: performance.now(),
    rssKiB: kib("VmRSS"),
    hwmKiB: kib("VmHWM"),
    userS: utime / clockTicks(),
    systemS: stime / clockTicks(),
    cpuS: (utime + stime) / clockTicks(),
  };
}

/** One-minute load average and runnable count, to note a busy shared machine. */
export async function loadAverage() {
  try {
    return (await readFile("/proc/loadavg", "utf8")).trim();
  } catch {
    return "n/a";
  }
}

/** Makes the test server offer a heartbeat interval once per connection (OpAMP connection settings). */
export function offerHeartbeatOnce(server, seconds) {
  const offered = new Set();
  server.respond = (_msg, r) => {
    if (offered.has(r.connection)) return undefined;
    offered.add(r.connection);
    return { connectionSettings: { hash: new Uint8Array([1]), opamp: { heartbeatIntervalSeconds: BigInt(seconds) } } };
  };
}
