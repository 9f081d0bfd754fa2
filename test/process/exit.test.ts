import { describe, expect, it } from "vitest";
import { ProcessError } from "../../src/errors.js";
import { describeExitStatus, exitError, formatExit, lastLines } from "../../src/process/exit.js";

describe("exit formatting", () => {
  it("formats code exits with the last lines of output", () => {
    const tail = Array.from({ length: 20 }, (_, i) => `line ${i}`).join("\n");
    expect(formatExit({ code: 2, signal: null, tail }, { maxLines: 2 })).toBe("exited with code 2: line 18\nline 19");
  });

  it("formats signal exits and omits an empty tail", () => {
    expect(formatExit({ code: null, signal: "SIGKILL", tail: "" })).toBe("killed by signal SIGKILL");
    expect(describeExitStatus({ code: 0, signal: null })).toBe("exited with code 0");
    expect(lastLines("a\n\n  \nb\n", 5)).toBe("a\nb");
  });

  it("builds a PROCESS_EXITED error carrying code and signal", () => {
    const err = exitError({ code: 1, signal: null, tail: "Error: bad config" });
    expect(err).toBeInstanceOf(ProcessError);
    expect(err).toMatchObject({ code: "PROCESS_EXITED", exitCode: 1, signal: null });
    expect(err.message).toBe("collector exited with code 1: Error: bad config");
  });
});
