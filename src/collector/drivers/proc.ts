/**
 * The little of /proc the sidecar driver reads: which processes exist, what they run, and
 * when they started. The root is a parameter so tests can lay out a fake /proc in a temp dir.
 *
 * A pid alone does not name a process (pids are reused); pid plus start time (field 22 of
 * /proc/<pid>/stat, clock ticks since boot) does, for as long as the machine is up.
 */
import { readFile, readdir, readlink } from "node:fs/promises";
import { basename, join } from "node:path";

export interface ProcessIdentity {
  pid: number;
  /** Field 22 of /proc/<pid>/stat, as text: compared, never computed with. */
  startTime: string;
}

export interface ProcessInfo extends ProcessIdentity {
  /** readlink /proc/<pid>/exe, or undefined when not allowed (another user, no ptrace access). */
  exe: string | undefined;
  argv: string[];
}

/** Process state (field 3) and start time; undefined when the process is gone. */
export async function readStat(root: string, pid: number): Promise<{ state: string; startTime: string } | undefined> {
  let text: string;
  try {
    text = await readFile(join(root, String(pid), "stat"), "utf8");
  } catch {
    return undefined;
  }
  // comm (field 2) is in parentheses and may itself contain spaces and ")": split after the last one.
  const fields = text
    .slice(text.lastIndexOf(")") + 2)
    .trim()
    .split(/\s+/);
  const state = fields[0];
  const startTime = fields[19];
  if (state === undefined || startTime === undefined) return undefined;
  return { state, startTime };
}

/**
 * Clock ticks per second of field 22. USER_HZ is 100 on every Linux architecture Node runs
 * on (it is fixed by the kernel's ABI, unlike CONFIG_HZ).
 */
const USER_HZ = 100;

/** A start time (field 22) in milliseconds since boot. */
export function startedMsSinceBoot(id: ProcessIdentity): number {
  return (Number(id.startTime) * 1000) / USER_HZ;
}

/** Milliseconds since boot now (/proc/uptime, 10 ms resolution); undefined when unreadable. */
export async function readUptimeMs(root: string): Promise<number | undefined> {
  const text = await readFile(join(root, "uptime"), "utf8").catch(() => undefined);
  const seconds = Number(text?.split(/\s+/)[0]);
  return text !== undefined && Number.isFinite(seconds) ? seconds * 1000 : undefined;
}

/** True while the process `id` names still exists and has not ended (a zombie has ended). */
export async function isRunning(root: string, id: ProcessIdentity): Promise<boolean> {
  const stat = await readStat(root, id.pid);
  return stat !== undefined && stat.startTime === id.startTime && !ENDED.has(stat.state);
}

/** Z: exited, not yet reaped (by the pod's pause process); X: dead. */
const ENDED = new Set(["Z", "X", "x"]);

/** Every live process under `root` but `exclude`, in pid order; processes that vanish mid-scan are left out. */
export async function listProcesses(root: string, exclude: number): Promise<ProcessInfo[]> {
  const pids = (await readdir(root))
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => pid !== exclude)
    .sort((a, b) => a - b);
  const found: ProcessInfo[] = [];
  for (const pid of pids) {
    const stat = await readStat(root, pid);
    if (stat === undefined || ENDED.has(stat.state)) continue;
    const cmdline = await readFile(join(root, String(pid), "cmdline"), "utf8").catch(() => "");
    const exe = await readlink(join(root, String(pid), "exe")).catch(() => undefined);
    found.push({ pid, startTime: stat.startTime, exe, argv: cmdline.split("\0").filter((arg) => arg !== "") });
  }
  return found;
}

/**
 * Is `p` the collector at `executable`? Its binary (when readable), else its argv[0]; or
 * argv[1] behind an interpreter, which is how the kernel runs a `#!` script
 * ([interpreter, script, ...args]). A bare name in argv[0] (run through PATH) matches by basename.
 */
export function runsExecutable(p: ProcessInfo, executable: string): boolean {
  if (p.exe === executable) return true;
  const [argv0, argv1] = p.argv;
  if (argv0 === executable || (argv0 !== undefined && !argv0.includes("/") && argv0 === basename(executable)))
    return true;
  return argv1 === executable && p.exe !== undefined && p.exe !== executable && INTERPRETER.test(basename(p.exe));
}

const INTERPRETER = /^(node|python\d*(\.\d+)?|sh|bash|dash|perl|ruby)$/;

/**
 * What runs the collector's own binary from our container: /proc/<pid>/exe whenever the
 * process is the binary itself (matched by exe or argv[0]; the configured path may be a
 * symlink or a bare name), `fallback` for a script behind an interpreter or an exe we may
 * not read.
 */
export function binaryOf(root: string, p: ProcessInfo, fallback: string): string {
  if (p.exe === undefined || INTERPRETER.test(basename(p.exe))) return fallback;
  return join(root, String(p.pid), "exe");
}
