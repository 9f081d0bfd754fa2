import { describe, expect, it } from "vitest";
import { silentLogger } from "../../src/deps.js";
import { OperationQueue } from "../../src/supervisor/queue.js";
import { FakeClock, settle } from "../support/fake-clock.js";

function queue(clock = new FakeClock(), shutdown = new AbortController()) {
  return {
    clock,
    shutdown,
    queue: new OperationQueue({ logger: silentLogger, clock, signal: shutdown.signal, defaultDeadlineMs: 1_000 }),
  };
}

/** An operation that runs until its signal aborts, recording why. */
function waitsForAbort(log: string[], name: string) {
  return (signal: AbortSignal) =>
    new Promise<void>((resolve) => {
      log.push(`${name} started`);
      signal.addEventListener("abort", () => {
        log.push(`${name} aborted: ${String((signal.reason as Error | undefined)?.message ?? signal.reason)}`);
        resolve();
      });
    });
}

describe("OperationQueue", () => {
  it("runs one operation at a time, in order", async () => {
    const { queue: q } = queue();
    const log: string[] = [];
    const a = q.enqueue("a", async () => {
      log.push("a");
      await settle();
      log.push("a done");
    });
    const b = q.enqueue("b", async () => void log.push("b"));
    await Promise.all([a, b]);
    expect(log).toEqual(["a", "a done", "b"]);
  });

  it("aborts an operation that passes its deadline, and the next one runs", async () => {
    const { queue: q, clock } = queue();
    const log: string[] = [];
    const hung = q.enqueue("hung", waitsForAbort(log, "hung"), 5_000);
    const next = q.enqueue("next", async (signal) => void log.push(`next started, aborted=${signal.aborted}`));
    await settle();
    await clock.advance(4_999);
    expect(log).toEqual(["hung started"]);
    await clock.advance(1);
    await Promise.all([hung, next]);
    expect(log).toEqual([
      "hung started",
      "hung aborted: operation hung passed its 5000 ms deadline",
      "next started, aborted=false",
    ]);
  });

  it("gives each operation its own signal: shutdown aborts the running one, later ones never start", async () => {
    const { queue: q, shutdown } = queue();
    const log: string[] = [];
    const running = q.enqueue("running", waitsForAbort(log, "running"));
    const later = q.enqueue("later", async () => void log.push("later started"));
    await settle();
    shutdown.abort(new Error("SIGTERM"));
    await Promise.all([running, later]);
    expect(log).toEqual(["running started", "running aborted: SIGTERM"]);
  });

  it("replaces a waiting operation with the newest one of the same key, which keeps its own deadline", async () => {
    const { queue: q, clock } = queue();
    const log: string[] = [];
    const first = q.enqueue("busy", waitsForAbort(log, "busy"), 100);
    void q.enqueueLatest("config", async () => void log.push("config 1"));
    const last = q.enqueueLatest("config", waitsForAbort(log, "config 2"), 300);
    await settle();
    await clock.advance(100);
    await first;
    await settle();
    await clock.advance(300);
    await last;
    expect(log).toEqual([
      "busy started",
      "busy aborted: operation busy passed its 100 ms deadline",
      "config 2 started",
      "config 2 aborted: operation config passed its 300 ms deadline",
    ]);
  });
});
