import { describe, expect, it } from "vitest";
import { BYTES_STEP, ProgressLog } from "../../src/upgrade/progress-log.js";

describe("ProgressLog", () => {
  it("logs once per 10% of a known size, never the starting step", () => {
    const log = new ProgressLog();
    const total = 1000;
    const steps = [1, 50, 99, 100, 150, 250, 999, 1000, 1000].map((r) => log.step(r, total)?.percent);
    expect(steps).toEqual([undefined, undefined, undefined, 10, undefined, 20, 90, 100, undefined]);
  });

  it("counts from where a resumed attempt starts", () => {
    const log = new ProgressLog();
    log.reset(450);
    expect(log.step(460, 1000)).toBeUndefined();
    expect(log.step(500, 1000)?.percent).toBe(50);
  });

  it("logs every 16 MiB when the size is unknown", () => {
    const log = new ProgressLog();
    expect(log.step(BYTES_STEP - 1, undefined)).toBeUndefined();
    expect(log.step(BYTES_STEP, undefined)).toEqual({ percent: undefined, received: BYTES_STEP });
    expect(log.step(BYTES_STEP + 10, undefined)).toBeUndefined();
    expect(log.step(3 * BYTES_STEP, undefined)?.received).toBe(3 * BYTES_STEP);
  });
});
