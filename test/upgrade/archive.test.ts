import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { entryProblem, extractBinary } from "../../src/upgrade/archive.js";
import { makeTarGz } from "./fixtures.js";
import type { TarEntry } from "./fixtures.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "archive-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function extract(entries: TarEntry[], binary = "otelcol", maxBytes = 1 << 20) {
  const archive = join(dir, "pkg.tar.gz");
  await writeFile(archive, makeTarGz(entries));
  const dest = join(dir, "out");
  return { result: await extractBinary({ archive, binary, dest, maxBytes }), dest };
}

describe("extractBinary", () => {
  it("extracts only the named binary, ignoring other files and directories", async () => {
    const { result, dest } = await extract([
      { path: "README.md", body: "docs" },
      { path: "bin/", type: "Directory" },
      { path: "./otelcol", body: "#!/bin/sh\necho new\n" },
      { path: "LICENSE", body: "apache" },
    ]);
    expect(result).toEqual({ ok: true, size: 19 });
    expect(await readFile(dest, "utf8")).toBe("#!/bin/sh\necho new\n");
    expect((await stat(dest)).mode & 0o777).toBe(0o600);
  });

  it("finds a binary in a subdirectory when configured with its path", async () => {
    const { result, dest } = await extract([{ path: "dist/otelcol-contrib", body: "bin" }], "dist/otelcol-contrib");
    expect(result.ok).toBe(true);
    expect(await readFile(dest, "utf8")).toBe("bin");
  });

  it.each([
    [
      "a ../ entry",
      [
        { path: "../evil", body: "x" },
        { path: "otelcol", body: "bin" },
      ],
      /\.\./,
    ],
    [
      "a nested ../ entry",
      [
        { path: "a/../../evil", body: "x" },
        { path: "otelcol", body: "bin" },
      ],
      /\.\./,
    ],
    [
      "an absolute path",
      [
        { path: "/etc/passwd", body: "x" },
        { path: "otelcol", body: "bin" },
      ],
      /absolute/,
    ],
    ["a symbolic link", [{ path: "otelcol", type: "SymbolicLink", linkpath: "/bin/sh" }], /link/],
    [
      "a hard link",
      [
        { path: "otelcol", body: "bin" },
        { path: "other", type: "Link", linkpath: "otelcol" },
      ],
      /link/,
    ],
    [
      "a device",
      [
        { path: "dev", type: "CharacterDevice" },
        { path: "otelcol", body: "bin" },
      ],
      /type CharacterDevice/,
    ],
  ] as [string, TarEntry[], RegExp][])("refuses an archive with %s", async (_name, entries, reason) => {
    const { result } = await extract(entries);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(reason);
  });

  it("refuses an archive whose entries exceed the cap", async () => {
    const { result } = await extract(
      [
        { path: "big", body: Buffer.alloc(4096) },
        { path: "otelcol", body: "bin" },
      ],
      "otelcol",
      2048,
    );
    expect(result).toMatchObject({ ok: false, reason: expect.stringMatching(/cap/) });
  });

  it("refuses an archive without the binary, naming the configured path", async () => {
    const { result } = await extract([{ path: "otelcol-contrib", body: "bin" }]);
    expect(result).toMatchObject({ ok: false, reason: expect.stringMatching(/no regular file at "otelcol"/) });
  });

  it("refuses a directory in place of the binary", async () => {
    const { result } = await extract([{ path: "otelcol/", type: "Directory" }]);
    expect(result.ok).toBe(false);
  });

  it("refuses a file that is not a tar.gz", async () => {
    const archive = join(dir, "pkg.tar.gz");
    await writeFile(archive, "this is not gzip at all, just text");
    const result = await extractBinary({ archive, binary: "otelcol", dest: join(dir, "out"), maxBytes: 1 << 20 });
    expect(result.ok).toBe(false);
  });
});

describe("entryProblem", () => {
  it("accepts plain relative files and directories", () => {
    expect(entryProblem("a/b/c", "File")).toBeNull();
    expect(entryProblem("./a/", "Directory")).toBeNull();
    expect(entryProblem("a..b", "File")).toBeNull();
  });
  it("flags backslashes, drive letters and NUL bytes", () => {
    expect(entryProblem("a\\..\\b", "File")).toMatch(/non-POSIX/);
    expect(entryProblem("C:/x", "File")).toMatch(/absolute/);
    expect(entryProblem("a\0b", "File")).toMatch(/NUL/);
  });
});
