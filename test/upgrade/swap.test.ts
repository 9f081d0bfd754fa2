import { chmod, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  backUp,
  identityOf,
  prepareStaged,
  removeSideFiles,
  renameInto,
  sameFile,
  sidePaths,
} from "../../src/upgrade/swap.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "swap-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("sidePaths", () => {
  it("puts hidden side files next to the executable, keeping its extension last", () => {
    expect(sidePaths("/opt/otel/otelcol-contrib")).toMatchObject({
      staged: "/opt/otel/.otelcol-contrib.opamp-staged",
      backup: "/opt/otel/.otelcol-contrib.opamp-backup",
    });
    expect(sidePaths("/x/otelcol-stub.mjs").staged).toBe("/x/.otelcol-stub.opamp-staged.mjs");
    expect(sidePaths("/x/otelcol").download("0123456789abcdef0123")).toBe(
      "/x/.otelcol.opamp-download-0123456789abcdef",
    );
  });
});

describe("the swap", () => {
  it("backs up by hard link, renames the new binary in, and renames the backup back", async () => {
    const exe = join(dir, "otelcol");
    const { staged, backup } = sidePaths(exe);
    await writeFile(exe, "old", { mode: 0o750 });
    await writeFile(staged, "new", { mode: 0o600 });
    const oldId = await identityOf(exe);
    await prepareStaged(staged, exe);
    expect((await stat(staged)).mode & 0o777).toBe(0o750);
    expect(await backUp(exe, backup)).toBe("link");
    expect(sameFile(await identityOf(backup), oldId)).toBe(true);
    const newId = await identityOf(staged);
    await renameInto(staged, exe);
    expect(await readFile(exe, "utf8")).toBe("new");
    expect(sameFile(await identityOf(exe), newId)).toBe(true);
    await renameInto(backup, exe);
    expect(await readFile(exe, "utf8")).toBe("old");
    expect(sameFile(await identityOf(exe), oldId)).toBe(true);
    expect(await readdir(dir)).toEqual(["otelcol"]);
  });

  it("drops setuid bits and keeps owner read+execute on the staged binary", async () => {
    const exe = join(dir, "otelcol");
    await writeFile(exe, "old");
    await chmod(exe, 0o4711);
    const { staged } = sidePaths(exe);
    await writeFile(staged, "new");
    await prepareStaged(staged, exe);
    expect((await stat(staged)).mode & 0o7777).toBe(0o711);
  });

  it("replaces a stale backup", async () => {
    const exe = join(dir, "otelcol");
    const { backup } = sidePaths(exe);
    await writeFile(exe, "current");
    await writeFile(backup, "stale");
    await backUp(exe, backup);
    expect(await readFile(backup, "utf8")).toBe("current");
  });

  it("removes only this executable's side files", async () => {
    const exe = join(dir, "otelcol");
    const paths = sidePaths(exe);
    await writeFile(exe, "x");
    await writeFile(paths.staged, "x");
    await writeFile(paths.download("ab"), "x");
    await writeFile(join(dir, ".other.opamp-staged"), "x");
    await removeSideFiles(exe, [paths.download("ab")]);
    expect((await readdir(dir)).sort()).toEqual([".otelcol.opamp-download-ab", ".other.opamp-staged", "otelcol"]);
  });

  it("reports a missing file as no identity", async () => {
    expect(await identityOf(join(dir, "nope"))).toBeUndefined();
    expect(sameFile(undefined, undefined)).toBe(false);
  });
});
