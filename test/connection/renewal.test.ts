import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/deps.js";
import { RenewalScheduler, renewalDue } from "../../src/connection/renewal.js";
import type { RenewalState } from "../../src/connection/renewal.js";
import { FakeClock, eventually, settle } from "../support/fake-clock.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe("renewalDue", () => {
  it("is due without a certificate and inside the window, not outside", () => {
    const now = 1_000 * DAY;
    expect(renewalDue(undefined, now, 30 * DAY)).toBe(true);
    expect(renewalDue(now + 31 * DAY, now, 30 * DAY)).toBe(false);
    expect(renewalDue(now + 30 * DAY, now, 30 * DAY)).toBe(true);
    expect(renewalDue(now - DAY, now, 30 * DAY)).toBe(true);
  });
});

describe("RenewalScheduler", () => {
  let controller = new AbortController();
  let run: Promise<void> | undefined;
  afterEach(async () => {
    controller.abort();
    await run;
    controller = new AbortController();
  });

  function start(
    clock: FakeClock,
    state: RenewalState,
    requests: number[],
    o: { retryInitialMs?: number } = {},
  ): RenewalScheduler {
    const scheduler = new RenewalScheduler({
      clock,
      logger: silentLogger,
      renewBeforeMs: 30 * DAY,
      checkIntervalMs: DAY,
      retryInitialMs: o.retryInitialMs ?? 60_000,
      state: () => state,
      request: async (attempt) => {
        requests.push(attempt);
      },
    });
    run = scheduler.run(controller.signal);
    return scheduler;
  }

  it("does not ask outside the window, and asks as soon as the certificate enters it", async () => {
    const clock = new FakeClock();
    const requests: number[] = [];
    // Expires in 30 days and 12 hours: 12 hours outside the window.
    const state: RenewalState = { notAfter: clock.now() + 30 * DAY + 12 * HOUR, canRequest: true, force: false };
    start(clock, state, requests);
    await settle();
    expect(requests).toEqual([]);
    await clock.advance(11 * HOUR);
    expect(requests).toEqual([]);
    await clock.advance(HOUR + 30_000); // 30 s into the window
    expect(requests).toEqual([1]);
  });

  it("checks on the daily timer and re-sends an unanswered request with growing delays", async () => {
    const clock = new FakeClock();
    const requests: number[] = [];
    const state: RenewalState = { notAfter: clock.now() + 10 * DAY, canRequest: true, force: false };
    start(clock, state, requests);
    await eventually(() => requests.length === 1 && clock.pending === 1, 2000, "first request at start");
    await clock.advance(59_000);
    expect(requests).toEqual([1]);
    await clock.advance(1_000); // 1 min
    expect(requests).toEqual([1, 2]);
    await clock.advance(120_000); // then 2 min
    expect(requests).toEqual([1, 2, 3]);
    await clock.advance(240_000); // then 4 min
    expect(requests).toEqual([1, 2, 3, 4]);
    // Answered: a fresh certificate moves expiry out of the window; no more requests.
    state.notAfter = clock.now() + 90 * DAY;
    await clock.advance(5 * DAY);
    expect(requests).toEqual([1, 2, 3, 4]);
  });

  it("waits while it cannot ask (no connection or server without CSR support), then asks when poked", async () => {
    const clock = new FakeClock();
    const requests: number[] = [];
    const state: RenewalState = { notAfter: undefined, canRequest: false, force: false };
    const scheduler = start(clock, state, requests);
    await settle();
    await clock.advance(2 * DAY);
    expect(requests).toEqual([]);
    state.canRequest = true;
    scheduler.poke();
    await eventually(() => requests.length === 1, 2000, "request after poke");
  });

  it("renews outside the window when forced (the instance uid in the certificate changed)", async () => {
    const clock = new FakeClock();
    const requests: number[] = [];
    const state: RenewalState = { notAfter: clock.now() + 300 * DAY, canRequest: true, force: false };
    const scheduler = start(clock, state, requests);
    await settle();
    expect(requests).toEqual([]);
    state.force = true;
    scheduler.poke();
    await eventually(() => requests.length === 1, 2000, "forced request");
  });
});
