/**
 * The client's connection lifecycle as data: the phase it is in, and per connect attempt
 * the session that phase carries. The client switches on these; observers see
 * `ConnectionState`, the public view.
 *
 *   idle ──start()──▶ connecting ──ok──▶ open ──first send──▶ connected ──lost──▶ backoff ──▶ connecting
 *                        │ fail                                                     ▲
 *                        └──────────────────────────────────────────────────────────┘
 *   any ──close()/destroy()──▶ closed
 */
import type { ConnectionState, ConnectionTarget } from "./client-types.js";
import type { Trial } from "./settings-trial.js";
import type { Connection, TransportError } from "./transport.js";

/** How a connection ends when the client moves to other settings: "polite" sends agent_disconnect first. */
export type Leave = "polite" | "drop";

/** One pass of the connect loop: the connect attempt and, once open, its connection. */
export interface Session<T extends ConnectionTarget> {
  readonly trial: Trial<T> | undefined;
  /** Aborts the connect attempt (new settings to try). */
  readonly abort: AbortController;
  /** Ends the connection; the loop then decides what comes next. */
  readonly end: (error: TransportError) => void;
  /** Set when the connection must end because the settings change, not because it failed. */
  leave: Leave | undefined;
  /** Aborted to wake the send loop when something new is to be sent. */
  wake: AbortController;
  lastSentAt: number;
}

/**
 * The lifecycle the client switches on. `open` is a connection whose first message has not
 * gone through yet: to observers it is still `connecting`.
 */
export type Phase<T extends ConnectionTarget> =
  | { kind: "idle" }
  | { kind: "connecting"; attempt: number; session: Session<T> }
  | { kind: "open"; attempt: number; session: Session<T>; conn: Connection }
  | { kind: "connected"; session: Session<T>; conn: Connection; since: number }
  | { kind: "backoff"; attempt: number; delayMs: number; reason: string; skip: AbortController }
  | { kind: "closed" };

/** What observers see: `open` is still connecting to them. */
export function publicState<T extends ConnectionTarget>(p: Phase<T>): ConnectionState {
  switch (p.kind) {
    case "idle":
    case "closed":
      return { kind: p.kind };
    case "connecting":
    case "open":
      return { kind: "connecting", attempt: p.attempt };
    case "connected":
      return { kind: "connected", transport: p.conn.kind, since: p.since };
    case "backoff":
      return { kind: "backoff", attempt: p.attempt, delayMs: p.delayMs, reason: p.reason };
  }
}

/** A fresh session for one connect attempt, and the promise its `end` settles. */
export function newSession<T extends ConnectionTarget>(
  trial: Trial<T> | undefined,
): { session: Session<T>; lost: Promise<TransportError> } {
  let end: (error: TransportError) => void = () => undefined;
  const lost = new Promise<TransportError>((resolve) => (end = resolve));
  const session: Session<T> = {
    trial,
    abort: new AbortController(),
    end,
    leave: undefined,
    wake: new AbortController(),
    lastSentAt: 0,
  };
  return { session, lost };
}

/** The current connect attempt or connection, if any. */
export function sessionOf<T extends ConnectionTarget>(p: Phase<T>): Session<T> | undefined {
  return p.kind === "connecting" || p.kind === "open" || p.kind === "connected" ? p.session : undefined;
}

/** The open connection, if any. */
export function connectionOf<T extends ConnectionTarget>(p: Phase<T>): Connection | undefined {
  return p.kind === "open" || p.kind === "connected" ? p.conn : undefined;
}
