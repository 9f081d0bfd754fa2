/**
 * The chaos test in the default suite: a short seeded sequence of the event kinds today's
 * code gets through (the others are listed in DEFAULT_OFF with the fault that stops them).
 * `npm run chaos -- --events N --seed S [--kinds a,b]` runs a long one through this file.
 * The seed is printed; a failure names the seed, the event and the invariant.
 */
import { describe, expect, it } from "vitest";
import { EVENT_KINDS, runChaos } from "./engine.js";
import type { EventKind } from "./engine.js";

/** Kinds left out of the default sequence until the named fault is fixed (storage-faults issue). */
export const DEFAULT_OFF: Partial<Record<EventKind, string>> = {};

const events = Number(process.env["CHAOS_EVENTS"] ?? 8);
const seed = process.env["CHAOS_SEED"] !== undefined ? Number(process.env["CHAOS_SEED"]) : Date.now() % 2 ** 31;
const kinds =
  (process.env["CHAOS_KINDS"]?.split(",") as EventKind[] | undefined) ??
  EVENT_KINDS.filter((k) => DEFAULT_OFF[k] === undefined);

describe("chaos", () => {
  it(
    `${events} seeded random events: every invariant holds after each`,
    async () => {
      console.log(
        `chaos seed ${seed} (replay: npm run chaos -- --events ${events} --seed ${seed}); kinds: ${kinds.join(", ")}`,
      );
      const report = await runChaos({ seed, events, kinds, log: (line) => console.log(line) });
      console.log(`chaos report: ${JSON.stringify(report, null, 2)}`);
      expect(report.failures).toEqual([]);
    },
    Math.max(60_000, events * 30_000),
  );
});
