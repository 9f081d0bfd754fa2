import { spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { systemClock } from "../../src/deps.js";
import { parseProcStat, readPidFile, reapLeftover, writePidFile } from "../../src/process/pidfile.js";
import { openStateDir, STATE_FILE_NAMES } from "../../src/storage/state-dir.js";
import { isAlive, killAtCleanup, recordingLogger, tempDir, waitFor } from "./helpers.js";

/** A detached long-running process, standing in for a collector left behind; resolves once its handlers are set. */
async function startLeftover(ignoreTerm = false): Promise<number> {
  const code = `${ignoreTerm ? "process.on('SIGTERM', () => {});" : ""} console.log("ready"); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ["-e", code], { detached: true, stdio: ["ignore", "pipe", "ignore"] });
  if (child.pid === undefined) throw new Error("no pid");
  killAtCleanup(child.pid);
  let out = "";
  child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
  await waitFor(() => out.includes("ready"));
  return child.pid;
}

describe("parseProcStat", () => {
  it("finds state, pgrp and start time even when comm contains spaces and parentheses", () => {
    const fields = [
      "S",
      "1",
      "4242",
      "4242",
      "0",
      "-1",
      "4194560",
      "1",
      "0",
      "0",
      "0",
      "0",
      "0",
      "0",
      "0",
      "20",
      "0",
      "1",
      "0",
      "987654",
    ];
    expect(parseProcStat(`4242 (we ird) (name)) ${fields.join(" ")} 0 0`)).toEqual({
      state: "S",
      pgrp: 4242,
      startTime: "987654",
    });
    expect(parseProcStat("garbage")).toBeUndefined();
  });
});

describe("pidfile", () => {
  it("records pid, start time, boot id and executable atomically", async () => {
    const dir = await openStateDir(await tempDir());
    const pid = await startLeftover();
    const record = await writePidFile(dir, { pid, executable: "/opt/otelcol" });
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    expect(record.startTime).toBe(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
    expect(await readPidFile(dir)).toEqual(record);
  });
});

describe("reapLeftover", () => {
  it("does nothing without a pidfile", async () => {
    const dir = await openStateDir(await tempDir());
    expect(await reapLeftover(dir, { clock: systemClock })).toEqual({ action: "none" });
  });

  it("kills a leftover collector whose start time matches and removes the pidfile", async () => {
    const dir = await openStateDir(await tempDir());
    const pid = await startLeftover();
    await writePidFile(dir, { pid, executable: "/opt/otelcol" });
    const logger = recordingLogger();
    const result = await reapLeftover(dir, { clock: systemClock, logger });
    expect(result).toEqual({ action: "killed", pid, executable: "/opt/otelcol", forced: false, group: true });
    expect(await isAlive(pid)).toBe(false);
    expect(await readPidFile(dir)).toBeUndefined();
    expect(logger.records).toHaveLength(1);
  });

  it("escalates to SIGKILL for a leftover that ignores SIGTERM", async () => {
    const dir = await openStateDir(await tempDir());
    const pid = await startLeftover(true);
    await writePidFile(dir, { pid, executable: "/opt/otelcol" });
    const result = await reapLeftover(dir, { clock: systemClock, timeoutMs: 200 });
    expect(result).toMatchObject({ action: "killed", forced: true });
    expect(await isAlive(pid)).toBe(false);
  });

  it("does not kill a process whose start time differs (a reused pid)", async () => {
    const dir = await openStateDir(await tempDir());
    const pid = await startLeftover();
    const record = await writePidFile(dir, { pid, executable: "/opt/otelcol" });
    await writeFile(
      dir.file(STATE_FILE_NAMES.pidFile),
      JSON.stringify({ ...record, startTime: String(Number(record.startTime) - 1) }),
    );
    expect(await reapLeftover(dir, { clock: systemClock })).toEqual({
      action: "stale",
      reason: "start-time-differs",
      pid,
    });
    expect(await isAlive(pid)).toBe(true);
    expect(await readPidFile(dir)).toBeUndefined();
  });

  it("does not kill anything for a record from another boot, a dead pid, or a corrupt file", async () => {
    const dir = await openStateDir(await tempDir());
    const pid = await startLeftover();
    const record = await writePidFile(dir, { pid, executable: "/opt/otelcol" });
    const file = join(dir.root, STATE_FILE_NAMES.pidFile);
    await writeFile(file, JSON.stringify({ ...record, bootId: "00000000-0000-0000-0000-000000000000" }));
    expect(await reapLeftover(dir, { clock: systemClock })).toMatchObject({ action: "stale", reason: "other-boot" });
    expect(await isAlive(pid)).toBe(true);

    await writeFile(file, JSON.stringify({ ...record, pid: 2 ** 22 + 12345 }));
    expect(await reapLeftover(dir, { clock: systemClock })).toMatchObject({ action: "stale", reason: "not-running" });

    await writeFile(file, "{not json");
    expect(await reapLeftover(dir, { clock: systemClock })).toEqual({ action: "stale", reason: "corrupt" });
  });
});
