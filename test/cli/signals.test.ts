import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { SIGNAL_ACTIONS, installSignalHandlers } from "../../src/main.js";
import type { HandledSignal, SignalSource } from "../../src/main.js";
import { recordingLogger } from "../storage/helpers.js";

function setup(reload?: () => void) {
  const clock = { ms: 0 };
  const emitter = new EventEmitter();
  const source = emitter as unknown as SignalSource;
  const logger = recordingLogger();
  const shutdown = new AbortController();
  const exits: number[] = [];
  const uninstall = installSignalHandlers(source, {
    logger,
    shutdown,
    exitNow: (c) => exits.push(c),
    now: () => clock.ms,
    ...(reload ? { reload } : {}),
  });
  const send = (name: HandledSignal): boolean => emitter.emit(name, name);
  return { emitter, logger, shutdown, exits, uninstall, send, clock };
}

describe("signal handling", () => {
  it("ignores SIGUSR1, SIGUSR2 and SIGPIPE with a log line each, without stopping", () => {
    const { logger, shutdown, exits, send } = setup();
    for (const name of ["SIGUSR1", "SIGUSR2", "SIGPIPE"] as const) expect(send(name)).toBe(true);
    expect(shutdown.signal.aborted).toBe(false);
    expect(exits).toEqual([]);
    expect(logger.lines.map((l) => l.fields["signal"])).toEqual(["SIGUSR1", "SIGUSR2", "SIGPIPE"]);
    // A broken pipe repeats: only its first SIGPIPE is logged.
    send("SIGPIPE");
    send("SIGUSR1");
    expect(logger.lines.map((l) => l.fields["signal"])).toEqual(["SIGUSR1", "SIGUSR2", "SIGPIPE", "SIGUSR1"]);
  });

  it("logs and ignores SIGHUP until a reload job is wired, and calls that job once it is", () => {
    const idle = setup();
    idle.send("SIGHUP");
    expect(idle.shutdown.signal.aborted).toBe(false);
    expect(idle.logger.lines).toEqual([
      expect.objectContaining({ level: "info", fields: expect.objectContaining({ signal: "SIGHUP" }) as unknown }),
    ]);

    let reloads = 0;
    const wired = setup(() => reloads++);
    wired.send("SIGHUP");
    wired.send("SIGHUP");
    expect(reloads).toBe(2);
    expect(wired.shutdown.signal.aborted).toBe(false);
  });

  it("takes the same SIGTERM again within a second as one request delivered twice (shared PID namespace + tini), and a later one as 'now'", () => {
    const { shutdown, exits, send, clock } = setup();
    send("SIGTERM");
    clock.ms = 58;
    send("SIGTERM");
    expect(shutdown.signal.aborted).toBe(true);
    expect(exits).toEqual([]);
    clock.ms = 1_500;
    send("SIGTERM");
    expect(exits).toEqual([130]);
  });

  it("stops on the first SIGTERM or SIGINT and exits at once on the second", () => {
    const { shutdown, exits, send } = setup();
    send("SIGTERM");
    expect(shutdown.signal.aborted).toBe(true);
    expect(exits).toEqual([]);
    send("SIGINT");
    expect(exits).toEqual([130]);
  });

  it("handles every listed signal and removes every handler again", () => {
    const { emitter, uninstall } = setup();
    const names = Object.keys(SIGNAL_ACTIONS);
    expect(names.sort()).toEqual(["SIGHUP", "SIGINT", "SIGPIPE", "SIGTERM", "SIGUSR1", "SIGUSR2"]);
    for (const name of names) expect(emitter.listenerCount(name)).toBe(1);
    uninstall();
    for (const name of names) expect(emitter.listenerCount(name)).toBe(0);
  });
});
