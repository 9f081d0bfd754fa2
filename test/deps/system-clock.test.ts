import { describe, expect, it } from "vitest";
import { MAX_TIMER_MS, systemClock } from "../../src/deps.js";

describe("systemClock.sleep", () => {
  it("waits out a delay longer than a Node timer can hold instead of firing at once", async () => {
    const controller = new AbortController();
    let settled: string | undefined;
    const sleeping = systemClock.sleep(MAX_TIMER_MS + 10_000, controller.signal).then(
      () => (settled = "resolved"),
      (err: unknown) => (settled = (err as { code?: string }).code ?? "rejected"),
    );
    await systemClock.sleep(50);
    expect(settled).toBeUndefined();
    controller.abort();
    await sleeping;
    expect(settled).toBe("ABORTED");
  });

  it("resolves a short delay", async () => {
    const start = Date.now();
    await systemClock.sleep(20);
    expect(Date.now() - start).toBeGreaterThanOrEqual(15);
  });
});
