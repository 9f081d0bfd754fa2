import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { captureOutput, collectorLineLevel, LineSplitter, TailBuffer } from "../../src/process/output.js";
import { recordingLogger, tempDir } from "./helpers.js";

describe("TailBuffer", () => {
  it("keeps only the most recent lines within the byte budget", () => {
    const tail = new TailBuffer(64);
    for (let i = 0; i < 100; i++) tail.push(`line number ${i}`);
    expect(tail.bytes).toBeLessThanOrEqual(64);
    expect(tail.text().endsWith("line number 99")).toBe(true);
    expect(tail.text()).not.toContain("line number 90");
  });

  it("keeps the end of a single line larger than the budget", () => {
    const tail = new TailBuffer(16);
    tail.push(`${"x".repeat(100)}THE-END`);
    expect(tail.bytes).toBeLessThanOrEqual(16);
    expect(tail.text().endsWith("THE-END")).toBe(true);
    tail.push("é".repeat(50));
    expect(tail.bytes).toBeLessThanOrEqual(16);
  });
});

describe("LineSplitter", () => {
  it("joins partial chunks, strips CR and flushes the last partial line on end", () => {
    const lines: string[] = [];
    const splitter = new LineSplitter((line) => lines.push(line));
    splitter.write("hel");
    splitter.write("lo\r\nwor");
    splitter.write("ld\n\npartial");
    expect(lines).toEqual(["hello", "world", ""]);
    splitter.end();
    expect(lines).toEqual(["hello", "world", "", "partial"]);
  });
});

describe("collectorLineLevel", () => {
  it("reads the level of zap console lines and defaults to info", () => {
    expect(collectorLineLevel("2026-01-01T00:00:00.000Z\terror\tservice.go:1\tboom")).toBe("error");
    expect(collectorLineLevel("2026-01-01T00:00:00.000Z\twarn\tx\ty")).toBe("warn");
    expect(collectorLineLevel("2026-01-01T00:00:00.000Z\tfatal\tx\ty")).toBe("error");
    expect(collectorLineLevel("plain text")).toBe("info");
  });
});

describe("captureOutput", () => {
  it("passes lines through to the logger tagged with component and stream", async () => {
    const logger = recordingLogger();
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const capture = captureOutput({ stdout, stderr, sink: { kind: "passthrough", logger } });
    stdout.end("out 1\nout 2\n");
    stderr.end("t\terror\tc\tbad thing\n");
    await capture.done;
    expect(logger.records.map((r) => [r.level, r.bindings, r.obj, r.msg])).toEqual([
      ["info", { component: "collector" }, { stream: "stdout" }, "out 1"],
      ["info", { component: "collector" }, { stream: "stdout" }, "out 2"],
      ["error", { component: "collector" }, { stream: "stderr" }, "t\terror\tc\tbad thing"],
    ]);
    expect(capture.tail()).toBe("out 1\nout 2\nt\terror\tc\tbad thing");
  });

  it("moves a full log file to collector.log.1 and keeps every line in one of the two", async () => {
    const dir = await tempDir();
    const path = join(dir, "collector.log");
    const stdout = new PassThrough();
    const capture = captureOutput({
      stdout,
      stderr: null,
      sink: { kind: "file", path, maxBytes: 500 },
      tailBytes: 100,
    });
    for (let i = 0; i < 100; i++) stdout.write(`line ${String(i).padStart(3, "0")}\n`);
    stdout.end();
    await capture.done;
    const current = (await readFile(path, "utf8")).split("\n").filter(Boolean);
    const older = (await readFile(`${path}.1`, "utf8")).split("\n").filter(Boolean);
    expect(Buffer.byteLength(current.join("\n"))).toBeLessThanOrEqual(500 + 20);
    expect(current.at(-1)).toBe("line 099");
    expect(older.at(-1)).toBe(`line ${String(Number(current[0]?.slice(5)) - 1).padStart(3, "0")}`);
  });

  it("appends lines to a log file and keeps a bounded tail", async () => {
    const dir = await tempDir();
    const path = join(dir, "collector.log");
    const stdout = new PassThrough();
    const capture = captureOutput({ stdout, stderr: null, sink: { kind: "file", path }, tailBytes: 100 });
    for (let i = 0; i < 50; i++) stdout.write(`line ${i}\n`);
    stdout.end();
    await capture.done;
    const content = await readFile(path, "utf8");
    expect(content.split("\n")).toHaveLength(51);
    expect(Buffer.byteLength(capture.tail())).toBeLessThanOrEqual(100);
    expect(capture.tail().endsWith("line 49")).toBe(true);
  });
});
