import { describe, expect, it } from "vitest";
import { MAX_DURATION_MS, parseDuration } from "../../src/config/duration.js";
import { configError, resolve, withAgent } from "./helpers.js";

describe("parseDuration", () => {
  it.each([
    ["250ms", 250],
    ["1s", 1000],
    ["1.5s", 1500],
    ["1.1h", 3_960_000],
    ["1m30s", 90_000],
    ["1h", 3_600_000],
    ["2h45m10s500ms", 9_910_500],
    [".5s", 500],
    ["0", 0],
    ["0s", 0],
    ["+3s", 3000],
    ["1500us", 2],
    ["1000000ns", 1],
    ["1ns", 1],
    [0, 0],
    [1500, 1500],
  ] as const)("parses %j as %d ms", (input, ms) => {
    expect(parseDuration(input)).toEqual({ ok: true, ms });
  });

  it.each([
    ["", "empty duration"],
    ["-1s", 'duration must not be negative: "-1s"'],
    ["500", 'missing unit in duration "500" (use e.g. "500ms", or a plain YAML number for milliseconds)'],
    ["5 s", 'invalid duration "5 s"'],
    ["5d", 'invalid duration "5d"'],
    ["s", 'invalid duration "s"'],
    ["1h-5m", 'invalid duration "1h-5m"'],
  ])("rejects %j", (input, error) => {
    const result = parseDuration(input);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.startsWith(error)).toBe(true);
  });

  it("rejects fractional and negative numbers, non-strings and values too large for timers", () => {
    expect(parseDuration(1.5)).toEqual({ ok: false, error: "a number of milliseconds must be an integer, got 1.5" });
    expect(parseDuration(-5)).toEqual({ ok: false, error: "duration must not be negative, got -5" });
    expect(parseDuration(true)).toMatchObject({ ok: false, error: expect.stringMatching(/^expected a duration/) });
    expect(parseDuration(MAX_DURATION_MS)).toEqual({ ok: true, ms: MAX_DURATION_MS });
    expect(parseDuration("25d")).toMatchObject({ ok: false });
    expect(parseDuration("600h")).toMatchObject({ ok: false, error: expect.stringMatching(/at most 2147483647ms/) });
  });

  it("reports bad durations in supervisor.yaml with the key path and the value seen", () => {
    const err = configError(withAgent('bootstrap_timeout: "3"\nconfig_apply_timeout: -1s\nhealth: {interval: 1.5}'));
    expect(err.problems).toEqual([
      'agent.config_apply_timeout: duration must not be negative: "-1s"; got string "-1s"',
      'agent.bootstrap_timeout: missing unit in duration "3" (use e.g. "3ms", or a plain YAML number for milliseconds); got string "3"',
      "agent.health.interval: a number of milliseconds must be an integer, got 1.5; got number 1.5",
    ]);
    expect(resolve(withAgent("bootstrap_timeout: 3")).agent.bootstrapTimeoutMs).toBe(3);
  });
});
