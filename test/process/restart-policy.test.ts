import { describe, expect, it } from "vitest";
import { applyJitter, baseDelay, RestartPolicy } from "../../src/process/restart-policy.js";
import type { RestartPolicyOptions } from "../../src/process/restart-policy.js";

const options: RestartPolicyOptions = {
  initialDelayMs: 100,
  maxDelayMs: 1_000,
  multiplier: 2,
  jitter: 0.5,
  resetAfterMs: 10_000,
};

function setup(random = (): number => 0): { policy: RestartPolicy; clock: { time: number; now(): number } } {
  const clock = {
    time: 0,
    now(): number {
      return this.time;
    },
  };
  return { policy: new RestartPolicy(options, { clock, random }), clock };
}

describe("RestartPolicy", () => {
  it("grows the delay exponentially and caps it at maxDelayMs", () => {
    const { policy } = setup();
    const delays = Array.from({ length: 7 }, () => policy.recordFailure());
    expect(delays.map((d) => d.attempt)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(delays.map((d) => d.delayMs)).toEqual([100, 200, 400, 800, 1_000, 1_000, 1_000]);
  });

  it("keeps jittered delays within [d * (1 - jitter), d]", () => {
    expect(applyJitter(1_000, 0.5, () => 0)).toBe(1_000);
    expect(applyJitter(1_000, 0.5, () => 0.999_999)).toBe(500);
    const values = [0.1, 0.5, 0.9];
    let i = 0;
    const { policy } = setup(() => values[i++ % values.length] ?? 0);
    for (let n = 1; n <= 20; n++) {
      const { delayMs } = policy.recordFailure();
      const base = baseDelay(options, n);
      expect(delayMs).toBeGreaterThanOrEqual(base * 0.5);
      expect(delayMs).toBeLessThanOrEqual(base);
    }
  });

  it("resets after a run that stayed healthy for resetAfterMs", () => {
    const { policy, clock } = setup();
    policy.recordFailure();
    policy.recordFailure();
    policy.recordStart();
    clock.time = 1_000;
    policy.recordHealthy();
    clock.time = 11_000;
    policy.recordHealthy(); // later reports do not move the start of the healthy period
    expect(policy.recordFailure()).toEqual({ attempt: 1, delayMs: 100 });
  });

  it("does not reset for a run that was healthy too briefly or never healthy", () => {
    const { policy, clock } = setup();
    policy.recordFailure();
    policy.recordStart();
    policy.recordHealthy();
    clock.time = 9_999;
    expect(policy.recordFailure().attempt).toBe(2);
    policy.recordStart();
    clock.time = 100_000; // long uptime, but never healthy
    expect(policy.recordFailure().attempt).toBe(3);
  });

  it("rejects invalid options with a message naming the option", () => {
    const clock = { now: () => 0 };
    expect(() => new RestartPolicy({ ...options, multiplier: 0.5 }, { clock, random: Math.random })).toThrow(
      /multiplier/,
    );
    expect(() => new RestartPolicy({ ...options, jitter: 2 }, { clock, random: Math.random })).toThrow(/jitter/);
    expect(() => new RestartPolicy({ ...options, maxDelayMs: 1 }, { clock, random: Math.random })).toThrow(
      /maxDelayMs/,
    );
  });
});
