import { mkdtemp, open, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AtomicFs } from "../../src/storage/atomic.js";
import { readFileIfExists, removeStaleTemps, stageFile, writeFileAtomic } from "../../src/storage/atomic.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "atomic-test-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A filesystem whose file handles write half the data and then fail, like a full disk. */
function halfWriteFs(): AtomicFs {
  return {
    rename,
    rm,
    open: (async (path: string, flags: string, mode: number) => {
      const handle = await open(path, flags, mode);
      return new Proxy(handle, {
        get(target, prop, receiver) {
          if (prop === "writeFile") {
            return async (data: string | Uint8Array) => {
              const bytes = typeof data === "string" ? Buffer.from(data) : Buffer.from(data);
              await target.write(bytes.subarray(0, Math.floor(bytes.length / 2)));
              throw Object.assign(new Error("ENOSPC: no space left on device"), { code: "ENOSPC" });
            };
          }
          const value: unknown = Reflect.get(target, prop, receiver);
          return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
    }) as AtomicFs["open"],
  };
}

describe("writeFileAtomic", () => {
  it("creates a file with the content and mode 0600 by default", async () => {
    const path = join(dir, "a.json");
    await writeFileAtomic(path, "hello");
    expect(await readFile(path, "utf8")).toBe("hello");
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(["a.json"]);
  });

  it("replaces existing content and applies an explicit mode regardless of umask", async () => {
    const path = join(dir, "bin");
    await writeFile(path, "old");
    await writeFileAtomic(path, new Uint8Array([1, 2, 3]), { mode: 0o755 });
    expect([...(await readFile(path))]).toEqual([1, 2, 3]);
    expect((await stat(path)).mode & 0o777).toBe(0o755);
  });

  it("keeps the old content and leaves no temp file when the write fails midway", async () => {
    const path = join(dir, "state.json");
    await writeFile(path, "old content");
    await expect(writeFileAtomic(path, "x".repeat(10_000), { fs: halfWriteFs() })).rejects.toThrow(/ENOSPC/);
    expect(await readFile(path, "utf8")).toBe("old content");
    expect(await readdir(dir)).toEqual(["state.json"]);
  });

  it("keeps the old content and leaves no temp file when the rename fails", async () => {
    const path = join(dir, "state.json");
    await writeFile(path, "old content");
    const failingRename: AtomicFs = {
      open,
      rm,
      rename: async () => {
        throw Object.assign(new Error("EXDEV: cross-device link"), { code: "EXDEV" });
      },
    };
    await expect(writeFileAtomic(path, "new", { fs: failingRename })).rejects.toThrow(/EXDEV/);
    expect(await readFile(path, "utf8")).toBe("old content");
    expect(await readdir(dir)).toEqual(["state.json"]);
  });

  it("fails cleanly for a path in a directory that does not exist", async () => {
    await expect(writeFileAtomic(join(dir, "missing", "x.json"), "data")).rejects.toMatchObject({ code: "ENOENT" });
    expect(await readdir(dir)).toEqual([]);
  });

  it("lets concurrent writers finish with one complete version and no temp files", async () => {
    const path = join(dir, "race.txt");
    const versions = Array.from({ length: 20 }, (_, i) => `version-${i}-`.repeat(500));
    await Promise.all(versions.map((v) => writeFileAtomic(path, v)));
    expect(versions).toContain(await readFile(path, "utf8"));
    expect(await readdir(dir)).toEqual(["race.txt"]);
  });

  it("replaces a symlink instead of writing through it", async () => {
    const { symlink, lstat } = await import("node:fs/promises");
    const target = join(dir, "target");
    await writeFile(target, "target content");
    const link = join(dir, "link");
    await symlink(target, link);
    await writeFileAtomic(link, "new");
    expect(await readFile(target, "utf8")).toBe("target content");
    expect((await lstat(link)).isFile()).toBe(true);
  });
});

/** A filesystem whose file handles refuse fsync, like a failing disk. */
function failingSyncFs(): Partial<AtomicFs> {
  return {
    open: (async (path: string, flags: string, mode: number) => {
      const handle = await open(path, flags, mode);
      return Object.assign(handle, {
        sync: () => Promise.reject(Object.assign(new Error("EIO: i/o error, fsync"), { code: "EIO" })),
      });
    }) as AtomicFs["open"],
  };
}

describe("stageFile", () => {
  it("puts the bytes where a checker can read them, then over the target in one rename", async () => {
    const target = join(dir, "effective.yaml");
    await writeFile(target, "old");
    const staged = await stageFile(join(dir, "candidate.yaml"), "new: config\n");
    expect(await readFile(staged.path, "utf8")).toBe("new: config\n");
    expect(await readFile(target, "utf8")).toBe("old"); // nothing takes effect before commit
    await staged.commit(target);
    expect(await readFile(target, "utf8")).toBe("new: config\n");
    expect((await stat(target)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(["effective.yaml"]);
  });

  it("leaves nothing behind when the staged bytes are discarded", async () => {
    const staged = await stageFile(join(dir, "candidate.yaml"), "refused");
    await staged.discard();
    expect(await readdir(dir)).toEqual([]);
  });

  it("does not commit bytes the disk could not flush, and leaves the target and the directory as they were", async () => {
    const target = join(dir, "effective.yaml");
    await writeFile(target, "old");
    const staged = await stageFile(join(dir, "candidate.yaml"), "new", { fs: failingSyncFs() });
    await expect(staged.commit(target)).rejects.toMatchObject({ code: "EIO" });
    expect(await readFile(target, "utf8")).toBe("old");
    expect(await readdir(dir)).toEqual(["effective.yaml"]);
  });

  it("keeps the target and leaves no temp file when the rename fails", async () => {
    const target = join(dir, "effective.yaml");
    await writeFile(target, "old");
    const refuse = async () => {
      throw Object.assign(new Error("EIO: injected"), { code: "EIO" });
    };
    const staged = await stageFile(join(dir, "candidate.yaml"), "new", { fs: { rename: refuse } });
    await expect(staged.commit(target)).rejects.toMatchObject({ code: "EIO" });
    expect(await readFile(target, "utf8")).toBe("old");
    expect(await readdir(dir)).toEqual(["effective.yaml"]);
  });

  it("finds what an earlier process left staged, and only that, to remove at start", async () => {
    const left = await stageFile(join(dir, "candidate.yaml"), "staged when the supervisor was killed");
    await writeFile(join(dir, ".effective.yaml.tmp-1-abc"), "another file's temp");
    await writeFile(join(dir, "candidate.yaml"), "not a temp file");
    expect(await removeStaleTemps(join(dir, "candidate.yaml"))).toBe(1);
    expect(await readFileIfExists(left.path)).toBeUndefined();
    expect((await readdir(dir)).sort()).toEqual([".effective.yaml.tmp-1-abc", "candidate.yaml"]);
  });

  it("leaves no temp file when the write fails midway", async () => {
    await expect(stageFile(join(dir, "candidate.yaml"), "x".repeat(10_000), { fs: halfWriteFs() })).rejects.toThrow(
      /ENOSPC/,
    );
    expect(await readdir(dir)).toEqual([]);
  });
});

describe("readFileIfExists", () => {
  it("returns undefined for a missing file and the bytes otherwise", async () => {
    expect(await readFileIfExists(join(dir, "nope"))).toBeUndefined();
    await writeFile(join(dir, "yes"), "data");
    expect((await readFileIfExists(join(dir, "yes")))?.toString()).toBe("data");
  });

  it("propagates errors other than ENOENT", async () => {
    await expect(readFileIfExists(dir)).rejects.toMatchObject({ code: "EISDIR" });
  });
});
