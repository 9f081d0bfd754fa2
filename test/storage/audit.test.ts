import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Clock } from "../../src/deps.js";
import { AuditLog } from "../../src/storage/audit.js";

const clock: Clock = { now: () => Date.UTC(2026, 4, 6, 7, 8, 9), sleep: async () => undefined };

let dir: string;
let path: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "audit-test-"));
  path = join(dir, "audit.log");
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("AuditLog", () => {
  it("appends one parseable JSON line per entry, with the time from the clock by default", async () => {
    const log = new AuditLog({ path, clock });
    await log.append({ action: "remote-config-applied", hash: "abcd" });
    await log.append({ time: "2026-01-01T00:00:00.000Z", action: "rollback", reason: "unhealthy" });
    const lines = (await readFile(path, "utf8")).split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe("");
    expect(JSON.parse(lines[0] ?? "")).toEqual({
      time: "2026-05-06T07:08:09.000Z",
      action: "remote-config-applied",
      hash: "abcd",
    });
    expect(JSON.parse(lines[1] ?? "")).toEqual({
      time: "2026-01-01T00:00:00.000Z",
      action: "rollback",
      reason: "unhealthy",
    });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it("moves a full log to audit.log.1 and keeps writing, so it never grows without bound", async () => {
    const log = new AuditLog({ path, clock, maxBytes: 1_000 });
    for (let i = 0; i < 30; i++) await log.append({ action: "n", i, pad: "x".repeat(50) });
    const current = await log.read();
    const previous = (await readFile(`${path}.1`, "utf8"))
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { i: number });
    expect((await stat(path)).size).toBeLessThan(1_000 + 200);
    expect((await stat(`${path}.1`)).size).toBeLessThan(1_000 + 200);
    // Nothing lost at the seam: the newest generation continues where the older one stopped.
    expect(current.at(-1)?.["i"]).toBe(29);
    expect(current[0]?.["i"]).toBe((previous.at(-1)?.i ?? -1) + 1);
  });

  it("keeps call order for concurrent appends and never interleaves lines", async () => {
    const log = new AuditLog({ path, clock });
    await Promise.all(Array.from({ length: 50 }, (_, i) => log.append({ action: "n", i, pad: "x".repeat(i * 100) })));
    const entries = await log.read();
    expect(entries.map((e) => e["i"])).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it("appends after existing content written by an earlier process", async () => {
    await new AuditLog({ path, clock }).append({ action: "first" });
    await new AuditLog({ path, clock }).append({ action: "second" });
    expect((await new AuditLog({ path, clock }).read()).map((e) => e.action)).toEqual(["first", "second"]);
  });

  it("starts a fresh line after a line torn by a crash, and readers skip the torn line", async () => {
    await writeFile(path, '{"time":"t","action":"ok"}\n{"time":"t","act');
    const log = new AuditLog({ path, clock });
    await log.append({ action: "after-crash" });
    expect((await log.read()).map((e) => e.action)).toEqual(["ok", "after-crash"]);
  });

  it("reads an absent log as empty", async () => {
    expect(await new AuditLog({ path, clock }).read()).toEqual([]);
  });
});
