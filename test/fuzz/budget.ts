/**
 * How much each fuzz property runs. The default suite runs a bounded slice (a few seconds in
 * all); `npm run fuzz` sets FUZZ_FRAMES (1,000,000 frames for the codec and dispatch) and
 * scales the other properties with it. FUZZ_SEED replays a run; the seed is always printed.
 */
import fc from "fast-check";
import { expect } from "vitest";
import { SupervisorError } from "../../src/errors.js";
import type { SupervisorErrorCode } from "../../src/errors.js";

/** Frames for the codec and dispatch property. */
export const FRAMES = Number(process.env["FUZZ_FRAMES"] ?? 40_000);
/** The long run is ~250x the slice; the others scale the same way from their own slices. */
export const scale = (slice: number): number => Math.max(slice, Math.round((slice * FRAMES) / 40_000));
export const SEED = process.env["FUZZ_SEED"] !== undefined ? Number(process.env["FUZZ_SEED"]) : Date.now() % 2 ** 31;
/** A fuzz run may take minutes; the default slice stays well under the test timeout. */
export const TIMEOUT_MS = FRAMES > 40_000 ? 3_600_000 : 20_000;

/** Runs `property` `runs` times with the shared seed; prints the rate so a long run reports frames/s. */
export function check<T>(name: string, arb: fc.Arbitrary<T>, runs: number, property: (value: T) => void): void {
  const started = performance.now();
  const details = fc.check(fc.property(arb, property), { numRuns: runs, seed: SEED, endOnFailure: false });
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `fuzz ${name}: ${details.numRuns} inputs in ${seconds.toFixed(1)} s (${Math.round(details.numRuns / seconds)}/s), seed ${SEED}`,
  );
  if (details.failed) {
    throw new Error(
      `fuzz ${name} failed (replay with FUZZ_SEED=${SEED}, path ${details.counterexamplePath ?? "?"}): ` +
        `${JSON.stringify(details.counterexample, replacer)}\n${details.errorInstance instanceof Error ? (details.errorInstance.stack ?? "") : String(details.errorInstance)}`,
    );
  }
}

function replacer(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return `${value}n`;
  if (value instanceof Uint8Array) return `hex:${Buffer.from(value).toString("hex")}`;
  return value;
}

/** Every code in src/errors.ts; a rejection must carry one of these. */
const CODES: readonly SupervisorErrorCode[] = [
  "CONFIG_INVALID",
  "STATE_CORRUPT",
  "SPAWN_FAILED",
  "PROCESS_EXITED",
  "HEALTH_TIMEOUT",
  "CONFIG_REJECTED",
  "CONFIG_APPLY_FAILED",
  "ROLLBACK_FAILED",
  "UPGRADE_VERIFY_FAILED",
  "PROTOCOL_DECODE",
  "MESSAGE_TOO_LARGE",
  "CONNECTION_FAILED",
  "CONNECTION_LOST",
  "SERVER_ERROR",
  "ABORTED",
];

/** A rejection is a SupervisorError with a stable code from `allowed` (default: any known code) and a message. */
export function expectTypedRejection(err: unknown, allowed: readonly SupervisorErrorCode[] = CODES): void {
  if (!(err instanceof SupervisorError))
    throw new Error(`untyped rejection: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  expect(allowed).toContain(err.code);
  expect(err.message.length).toBeGreaterThan(0);
}
