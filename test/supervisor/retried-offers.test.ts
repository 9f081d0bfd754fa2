/**
 * An offer a full or read-only state directory stopped is tried again by the supervisor
 * itself, backing off, until it settles; a newer offer of the same kind replaces the retry.
 */
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../src/deps.js";
import type { OfferResult } from "../../src/storage/index.js";
import { OperationQueue } from "../../src/supervisor/queue.js";
import { MAX_RETRY_DELAY_MS, retriedOffers } from "../../src/supervisor/retried-offers.js";
import { FakeClock, settle } from "../support/fake-clock.js";

function setUp(results: OfferResult[]) {
  const clock = new FakeClock();
  const lifetime = new AbortController();
  const queue = new OperationQueue({ logger: silentLogger, clock, signal: lifetime.signal, defaultDeadlineMs: 60_000 });
  const handled: string[] = [];
  const offer = retriedOffers<string>({
    kind: "remote-config",
    queue,
    clock,
    logger: silentLogger,
    signal: lifetime.signal,
    firstRetryMs: 2_000,
    handle: (o) => {
      handled.push(o);
      return Promise.resolve(results.shift() ?? "settled");
    },
  });
  return { clock, offer, handled, lifetime };
}

describe("retriedOffers", () => {
  it("tries the same offer again after 2 s, then 4 s, and stops once it settles", async () => {
    const t = setUp(["retry", "retry", "settled"]);
    t.offer("a");
    await settle();
    expect(t.handled).toEqual(["a"]);
    await t.clock.advance(1_999);
    expect(t.handled).toHaveLength(1);
    await t.clock.advance(1);
    expect(t.handled).toEqual(["a", "a"]);
    await t.clock.advance(3_999);
    expect(t.handled).toHaveLength(2);
    await t.clock.advance(1);
    expect(t.handled).toEqual(["a", "a", "a"]);
    await t.clock.advance(MAX_RETRY_DELAY_MS);
    expect(t.handled).toHaveLength(3);
    t.lifetime.abort();
  });

  it("backs off to at most ten minutes between tries", async () => {
    const t = setUp(Array<OfferResult>(40).fill("retry"));
    t.offer("a");
    await settle();
    for (let i = 0; i < 10; i++) await t.clock.advance(MAX_RETRY_DELAY_MS);
    const before = t.handled.length;
    await t.clock.advance(MAX_RETRY_DELAY_MS);
    expect(t.handled.length).toBe(before + 1);
    t.lifetime.abort();
  });

  it("drops the pending retry when a newer offer arrives, and ends retries at shutdown", async () => {
    const t = setUp(["retry", "retry"]);
    t.offer("a");
    await settle();
    t.offer("b");
    await settle();
    expect(t.handled).toEqual(["a", "b"]);
    t.lifetime.abort();
    await t.clock.advance(MAX_RETRY_DELAY_MS * 2);
    expect(t.handled).toEqual(["a", "b"]);
  });
});
