import { describe, expect, it } from "vitest";
import { DEFAULT_BACKOFF, backoffDelay, parseRetryAfter } from "../../src/opamp/backoff.js";
import { formatUuid, parseUuid, uuidV7 } from "../../src/opamp/uuid.js";

describe("backoffDelay", () => {
  it("grows by the multiplier, is capped, and never undercuts the server's floor", () => {
    const mid = (): number => 0.5;
    expect([0, 1, 2].map((n) => backoffDelay(n, DEFAULT_BACKOFF, mid))).toEqual([500, 750, 1125]);
    expect(backoffDelay(50, DEFAULT_BACKOFF, mid)).toBe(60_000);
    expect(backoffDelay(0, DEFAULT_BACKOFF, mid, 30_000)).toBe(30_000);
  });

  it("spreads delays over ±jitter", () => {
    expect(backoffDelay(0, DEFAULT_BACKOFF, () => 0)).toBe(250);
    expect(backoffDelay(0, DEFAULT_BACKOFF, () => 0.999_999)).toBe(750);
  });
});

describe("parseRetryAfter", () => {
  const now = Date.UTC(2026, 0, 1);
  it("reads delay-seconds and HTTP dates", () => {
    expect(parseRetryAfter("120", now)).toBe(120_000);
    expect(parseRetryAfter(new Date(now + 5_000).toUTCString(), now)).toBe(5_000);
    expect(parseRetryAfter(new Date(now - 5_000).toUTCString(), now)).toBe(0);
  });
  it("ignores absent and unreadable values", () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter("soon", now)).toBeUndefined();
  });
});

describe("instance uids", () => {
  it("makes UUID v7 with the time, version and variant bits", () => {
    const uid = uuidV7(Date.UTC(2026, 0, 1), (n) => new Uint8Array(n).fill(0xff));
    const text = formatUuid(uid);
    expect(text).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(parseInt(text.replaceAll("-", "").slice(0, 12), 16)).toBe(Date.UTC(2026, 0, 1));
    expect(parseUuid(text)).toEqual(uid);
    expect(parseUuid("not-a-uuid")).toBeUndefined();
  });
});
