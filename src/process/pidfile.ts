/**
 * The collector pidfile, and cleaning up a collector left running by a previous supervisor
 * that died without stopping it (e.g. SIGKILLed where setpriv was unavailable).
 *
 * A pid alone is not an identity: after the old collector died, the kernel may have given
 * its pid to an unrelated process. The pidfile therefore also records the process start
 * time (/proc/<pid>/stat field 22, clock ticks since boot) and the boot id; a leftover is
 * only signalled when pid, start time and boot all match.
 */
import * as fsp from "node:fs/promises";
import type { Clock, Logger } from "../deps.js";
import { silentLogger } from "../deps.js";
import { abortError } from "../errors.js";
import { readFileIfExists, writeFileAtomic } from "../storage/atomic.js";
import type { StateDir } from "../storage/state-dir.js";
import { STATE_FILE_NAMES } from "../storage/state-dir.js";

export interface PidRecord {
  pid: number;
  /** /proc/<pid>/stat field 22, as text (it can exceed 2^53 in theory). */
  startTime: string;
  /** /proc/sys/kernel/random/boot_id, or null where unavailable. */
  bootId: string | null;
  executable: string;
}

export interface ProcStat {
  /** One-letter state: R, S, D, Z (zombie), X (dead), … */
  state: string;
  pgrp: number;
  startTime: string;
}

/** Parses /proc/<pid>/stat. The comm field may hold spaces and parentheses, so split after the last ")". */
export function parseProcStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(")");
  if (close < 0) return undefined;
  // Fields after comm start at field 3 (state); field N is at index N - 3.
  const fields = text
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  const state = fields[0];
  const pgrp = Number(fields[2]);
  const startTime = fields[19];
  if (state === undefined || startTime === undefined || !/^\d+$/.test(startTime) || !Number.isInteger(pgrp)) {
    return undefined;
  }
  return { state, pgrp, startTime };
}

/** The stat of a live process, or undefined when there is none (zombies count as gone). */
export async function readProcStat(pid: number): Promise<ProcStat | undefined> {
  const raw = await readFileIfExists(`/proc/${pid}/stat`).catch(() => undefined);
  const stat = raw === undefined ? undefined : parseProcStat(raw.toString("utf8"));
  if (!stat || stat.state === "Z" || stat.state === "X") return undefined;
  return stat;
}

export async function readBootId(): Promise<string | null> {
  const raw = await readFileIfExists("/proc/sys/kernel/random/boot_id").catch(() => undefined);
  return raw === undefined ? null : raw.toString("utf8").trim();
}

/** Records a just-started child. Throws when its /proc entry is already gone. */
export async function writePidFile(dir: StateDir, child: { pid: number; executable: string }): Promise<PidRecord> {
  const stat = await readProcStat(child.pid);
  if (!stat) throw new Error(`process ${child.pid} exited before its pidfile was written`);
  const record: PidRecord = {
    pid: child.pid,
    startTime: stat.startTime,
    bootId: await readBootId(),
    executable: child.executable,
  };
  await writeFileAtomic(dir.file(STATE_FILE_NAMES.pidFile), `${JSON.stringify(record)}\n`, { mode: 0o600 });
  return record;
}

export async function removePidFile(dir: StateDir): Promise<void> {
  await fsp.rm(dir.file(STATE_FILE_NAMES.pidFile), { force: true });
}

export async function readPidFile(dir: StateDir): Promise<PidRecord | "corrupt" | undefined> {
  const raw = await readFileIfExists(dir.file(STATE_FILE_NAMES.pidFile));
  if (raw === undefined) return undefined;
  try {
    const value = JSON.parse(raw.toString("utf8")) as Partial<PidRecord>;
    const ok =
      Number.isInteger(value.pid) &&
      (value.pid ?? 0) > 1 &&
      typeof value.startTime === "string" &&
      typeof value.executable === "string" &&
      (typeof value.bootId === "string" || value.bootId === null);
    return ok ? (value as PidRecord) : "corrupt";
  } catch {
    return "corrupt";
  }
}

/** What reapLeftover found and did. The pidfile is removed in every case but "none". */
export type ReapResult =
  | { action: "none" }
  | { action: "stale"; reason: "corrupt" | "not-running" | "start-time-differs" | "other-boot"; pid?: number }
  | { action: "killed"; pid: number; executable: string; forced: boolean; group: boolean };

export interface ReapOptions {
  clock: Clock;
  /** SIGTERM grace period before SIGKILL. Default 3 s. */
  timeoutMs?: number;
  /** How often to look whether the process is gone (it is not our child: no exit event). */
  pollMs?: number;
  signal?: AbortSignal;
  logger?: Logger;
}

/**
 * At supervisor start: if the pidfile names a live process with the recorded start time
 * and boot id, SIGTERM its process group (or the process alone if it leads none), SIGKILL
 * after `timeoutMs`, then remove the pidfile. Never signals a process whose identity differs.
 */
export async function reapLeftover(dir: StateDir, options: ReapOptions): Promise<ReapResult> {
  const logger = (options.logger ?? silentLogger).child({ component: "process" });
  const record = await readPidFile(dir);
  if (record === undefined) return { action: "none" };
  const result = await reapRecord(record, options);
  await removePidFile(dir);
  logger.info({ ...result }, "checked for a collector left running by a previous supervisor");
  return result;
}

async function reapRecord(record: PidRecord | "corrupt", options: ReapOptions): Promise<ReapResult> {
  if (record === "corrupt") return { action: "stale", reason: "corrupt" };
  const { pid } = record;
  const bootId = await readBootId();
  if (record.bootId !== null && bootId !== null && record.bootId !== bootId) {
    return { action: "stale", reason: "other-boot", pid };
  }
  const stat = await readProcStat(pid);
  if (!stat) return { action: "stale", reason: "not-running", pid };
  if (stat.startTime !== record.startTime) return { action: "stale", reason: "start-time-differs", pid };

  // detached children lead their own group; signal the group so helpers go too.
  const group = stat.pgrp === pid;
  const target = group ? -pid : pid;
  const isSame = async (): Promise<boolean> => (await readProcStat(pid))?.startTime === record.startTime;
  sendSignal(target, "SIGTERM");
  const gone = await waitUntilGone(isSame, options);
  let forced = false;
  if (!gone && (await isSame())) {
    forced = true;
    sendSignal(target, "SIGKILL");
    await waitUntilGone(isSame, { ...options, timeoutMs: 5_000 });
  }
  return { action: "killed", pid, executable: record.executable, forced, group };
}

function sendSignal(target: number, signal: NodeJS.Signals): void {
  try {
    process.kill(target, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
}

/** Polls until `isSame` turns false or the timeout passes; true when the process is gone. */
async function waitUntilGone(isSame: () => Promise<boolean>, options: ReapOptions): Promise<boolean> {
  const timeoutMs = options.timeoutMs ?? 3_000;
  const pollMs = options.pollMs ?? 25;
  const deadline = options.clock.now() + timeoutMs;
  for (;;) {
    if (!(await isSame())) return true;
    if (options.signal?.aborted) throw abortError(options.signal);
    if (options.clock.now() >= deadline) return false;
    await options.clock.sleep(pollMs, options.signal);
  }
}
