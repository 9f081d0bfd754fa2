import { describe, expect, it } from "vitest";
import {
  boundText,
  parseName,
  parseVersion,
  readVersion,
  readVersionInfo,
  runValidate,
  validateErrorText,
} from "../../src/process/commands.js";
import { tempDir, writeProgram } from "./helpers.js";

/** A fake collector: `validate` accepts configs whose path contains "good", prints cobra-style errors otherwise. */
const fakeCollector = `
const args = process.argv.slice(2);
if (args.includes("--version")) { console.log("otelcol-custom version v0.130.1-dev"); process.exit(0); }
if (args[0] === "validate") {
  const configs = args.filter((a, i) => args[i - 1] === "--config");
  if (process.env.VALIDATE_SLEEP) setTimeout(() => {}, 60_000);
  else if (configs.length > 0 && configs.every((c) => c.includes("good")) && args.includes("--feature-gates=x")) process.exit(0);
  else {
    process.stderr.write("Error: invalid configuration: service::pipelines::traces: references processor \\"x\\" which is not configured\\n");
    process.stderr.write("2026/01/02 03:04:05 collector server run finished with error: invalid configuration: ...\\n");
    process.exit(1);
  }
}
`;

async function fake(source = fakeCollector): Promise<string> {
  return writeProgram(await tempDir(), "otelcol", source);
}

describe("runValidate", () => {
  it("returns ok when the collector accepts the config with the same args", async () => {
    const exe = await fake();
    expect(await runValidate(exe, "/etc/good.yaml", { args: ["--feature-gates=x"] })).toEqual({ ok: true });
    expect(await runValidate(exe, ["/a/good.yaml", "/b/good.yaml"], { args: ["--feature-gates=x"] })).toEqual({
      ok: true,
    });
  });

  it("returns the collector's own error text, without the duplicate trailer line", async () => {
    const exe = await fake();
    expect(await runValidate(exe, "/etc/bad.yaml", { args: ["--feature-gates=x"] })).toEqual({
      ok: false,
      message:
        'Error: invalid configuration: service::pipelines::traces: references processor "x" which is not configured',
    });
  });

  it("bounds the message and reports a timeout as a failed validation", async () => {
    const noisy = await fake(`process.stderr.write("Error: " + "y".repeat(20000)); process.exit(1);`);
    const result = await runValidate(noisy, "/c.yaml", { maxMessageBytes: 200 });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(Buffer.byteLength(result.message)).toBeLessThanOrEqual(200);

    const slow = await fake();
    expect(await runValidate(slow, "/c.yaml", { env: { VALIDATE_SLEEP: "1" }, timeoutMs: 200 })).toEqual({
      ok: false,
      message: "validate did not finish within 200 ms",
    });
  });

  it("falls back to the exit code when the collector prints nothing", async () => {
    const silent = await fake(`process.exit(3);`);
    expect(await runValidate(silent, "/c.yaml")).toEqual({ ok: false, message: "validate exited with code 3" });
  });

  it("throws SPAWN_FAILED when the executable cannot run, and ABORTED on abort", async () => {
    await expect(runValidate("/nonexistent/otelcol", "/c.yaml")).rejects.toMatchObject({ code: "SPAWN_FAILED" });
    const controller = new AbortController();
    const running = runValidate(await fake(), "/c.yaml", { env: { VALIDATE_SLEEP: "1" }, signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    await expect(running).rejects.toMatchObject({ code: "ABORTED" });
  });
});

describe("readVersion", () => {
  it("parses '<name> version <v>' output", async () => {
    expect(await readVersion(await fake())).toBe("0.130.1-dev");
    expect(parseVersion("otelcol-contrib version 0.130.1")).toBe("0.130.1");
    expect(parseVersion("otelcol version v1.2.3\n")).toBe("1.2.3");
    expect(parseVersion("no version here")).toBeUndefined();
  });

  it("reads the name the collector gives itself, which can differ from the file name", async () => {
    expect(parseName("otelcol-contrib version 0.130.1")).toBe("otelcol-contrib");
    expect(parseName("2026/01/01 warning\notelcol version v1.2.3\n")).toBe("otelcol");
    expect(parseName("version")).toBeUndefined();
    expect(await readVersionInfo(await fake())).toEqual({
      name: expect.any(String) as unknown,
      version: "0.130.1-dev",
    });
  });

  it("throws a typed error when the output has no version or the run fails", async () => {
    await expect(readVersion(await fake(`console.log("hello");`))).rejects.toMatchObject({
      code: "PROCESS_EXITED",
      message: expect.stringContaining("printed no version") as unknown,
    });
    await expect(readVersion(await fake(`process.exit(4);`))).rejects.toMatchObject({
      code: "PROCESS_EXITED",
      exitCode: 4,
    });
    await expect(readVersion("/nonexistent/otelcol")).rejects.toMatchObject({ code: "SPAWN_FAILED" });
  });
});

describe("text helpers", () => {
  it("keeps a trailer-like line when there is no Error: line", () => {
    const only = "2026/01/02 03:04:05 collector server run finished with error: boom";
    expect(validateErrorText(`${only}\n`)).toBe(only);
    expect(boundText("short", 100)).toBe("short");
    expect(boundText("é".repeat(50), 30)).toMatch(/^é+ …\(truncated\)$/);
    expect(Buffer.byteLength(boundText("é".repeat(50), 30))).toBeLessThanOrEqual(30);
    expect(Buffer.byteLength(boundText("ééééé", 7))).toBeLessThanOrEqual(7);
  });
});
