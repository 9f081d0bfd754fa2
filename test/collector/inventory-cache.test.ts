/**
 * The `components` output kept between starts: a start on the same binary takes it without
 * running the binary; another binary (swapped, rewritten), a damaged entry or a binary that
 * cannot be stat'ed is read again. Each "start" is a new CollectorInventory on one state dir.
 */
import { mkdtemp, readFile, readdir, rename, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { nodeFileSystem, silentLogger } from "../../src/deps.js";
import { CollectorInventory } from "../../src/collector/inventory.js";
import { INVENTORY_CACHE_FILE, inventoryCache } from "../../src/collector/inventory-cache.js";
import { openStateDir } from "../../src/storage/state-dir.js";
import type { StateDir } from "../../src/storage/state-dir.js";

const YAML = (v: string): string => `buildinfo:\n    version: ${v}\nextensions:\n    - name: healthcheckv2\n`;
const life = new AbortController().signal;

let base: string;
let dir: StateDir;
let binary: string;
let runs: number;
/** What the binary prints now; a test changes it together with the file. */
let prints: string;
beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), "inventory-cache-"));
  dir = await openStateDir(join(base, "state"));
  binary = join(base, "otelcol");
  await writeFile(binary, "build 1", { mode: 0o755 });
  runs = 0;
  prints = YAML("1.0.0");
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

/** One supervisor start: a fresh inventory over the same state directory. */
function start(executable = binary): CollectorInventory {
  const driver = {
    components: () => {
      runs++;
      return Promise.resolve(prints);
    },
  };
  const cache = inventoryCache({ executable, stateDir: dir, fs: nodeFileSystem, logger: silentLogger });
  return new CollectorInventory(driver, life, cache);
}

/** The entry is written after the read, off the caller's path: wait until it holds `version`. */
async function keptFor(version: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const text = await readFile(dir.file(INVENTORY_CACHE_FILE), "utf8").catch(() => "");
    if (text.includes(`version: ${version}`)) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no inventory entry for ${version} was written`);
}

describe("the components inventory kept between starts", () => {
  it("a start on the same binary takes the kept output and runs nothing", async () => {
    expect(await start().components(life)).toBe(YAML("1.0.0"));
    expect(runs).toBe(1);
    await keptFor("1.0.0");
    const second = start();
    expect(await second.support(life)).toEqual({ healthcheckV2: true });
    expect(await second.buildInfo(life)).toMatchObject({ version: "1.0.0" });
    expect(runs).toBe(1);
  });

  it("reads a binary again once it was swapped, or rewritten in place", async () => {
    await start().components(life);
    await keptFor("1.0.0");
    // A package swap: a new file renamed over the old one.
    await writeFile(`${binary}.new`, "build 2", { mode: 0o755 });
    await rename(`${binary}.new`, binary);
    prints = YAML("2.0.0");
    expect(await start().buildInfo(life)).toMatchObject({ version: "2.0.0" });
    expect(runs).toBe(2);
    await keptFor("2.0.0");
    expect(await start().buildInfo(life)).toMatchObject({ version: "2.0.0" });
    expect(runs).toBe(2);
    // Rewritten in place, same size. The kernel stamps mtime and ctime with a coarse clock, so
    // a rewrite within the same tick is given a later mtime here, as any real one has.
    await writeFile(binary, "build 3", { mode: 0o755 });
    const later = new Date(Date.now() + 60_000);
    await utimes(binary, later, later);
    prints = YAML("3.0.0");
    expect(await start().buildInfo(life)).toMatchObject({ version: "3.0.0" });
    expect(runs).toBe(3);
    await keptFor("3.0.0"); // the entry is written in the background: done before the clean-up
  });

  it("ignores a damaged entry, reads the binary and writes a good entry over it", async () => {
    await writeFile(dir.file(INVENTORY_CACHE_FILE), "{ truncated");
    // A write a kill cut short at an earlier start.
    await writeFile(join(dir.root, `.${INVENTORY_CACHE_FILE}.tmp-1-killed`), "{ half");
    expect(await start().components(life)).toBe(YAML("1.0.0"));
    expect(runs).toBe(1);
    await keptFor("1.0.0");
    expect(await readdir(dir.root)).not.toContain(`.${INVENTORY_CACHE_FILE}.tmp-1-killed`);
    await start().components(life);
    expect(runs).toBe(1);
  });

  it("keeps nothing for a binary found through PATH or one it cannot stat", async () => {
    expect(inventoryCache({ executable: "otelcol", stateDir: dir, fs: nodeFileSystem, logger: silentLogger })).toBe(
      undefined,
    );
    const missing = join(base, "missing");
    await start(missing).components(life);
    await start(missing).components(life);
    expect(runs).toBe(2);
    expect(await readFile(dir.file(INVENTORY_CACHE_FILE), "utf8").catch(() => "none")).toBe("none");
  });
});
