import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Logger } from "../../src/deps.js";
import { isPlainFileName, openStateDir } from "../../src/storage/state-dir.js";

let base: string;
beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), "state-dir-test-"));
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

function recordingLogger(lines: unknown[]): Logger {
  const logger: Logger = {
    debug: (o, m) => lines.push([o, m]),
    info: (o, m) => lines.push([o, m]),
    warn: (o, m) => lines.push([o, m]),
    error: (o, m) => lines.push([o, m]),
    child: () => logger,
  };
  return logger;
}

describe("openStateDir", () => {
  it("creates a missing directory (and parents) with mode 0700", async () => {
    const dir = join(base, "a", "b", "state");
    const state = await openStateDir(dir);
    expect(state.root).toBe(dir);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
  });

  it("tightens an existing directory that others can read, and logs only path and mode", async () => {
    const dir = join(base, "loose");
    await mkdir(dir);
    await chmod(dir, 0o755);
    await writeFile(join(dir, "secret.json"), '{"token":"s3cr3t"}');
    const lines: unknown[] = [];
    await openStateDir(dir, { logger: recordingLogger(lines) });
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect(lines).toHaveLength(1);
    expect(JSON.stringify(lines)).toContain("755");
    expect(JSON.stringify(lines)).not.toContain("s3cr3t");
  });

  it("leaves a 0700 directory alone without logging", async () => {
    const dir = join(base, "ok");
    await mkdir(dir, { mode: 0o700 });
    const lines: unknown[] = [];
    await openStateDir(dir, { logger: recordingLogger(lines) });
    expect(lines).toEqual([]);
  });

  it("refuses a path that is a file", async () => {
    const path = join(base, "file");
    await writeFile(path, "");
    await expect(openStateDir(path)).rejects.toThrow();
  });

  it("builds file paths only from plain names and creates private subdirectories", async () => {
    const state = await openStateDir(join(base, "s"));
    expect(state.file("audit.log")).toBe(join(base, "s", "audit.log"));
    for (const bad of ["../x", "a/b", "", ".", "..", ".hidden", "/abs"]) {
      expect(() => state.file(bad)).toThrow(TypeError);
    }
    const sub = await state.subdir("packages");
    expect((await stat(sub)).mode & 0o777).toBe(0o700);
    expect(isPlainFileName("remote-config.json")).toBe(true);
  });
});
