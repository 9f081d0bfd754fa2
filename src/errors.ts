/**
 * The supervisor's error hierarchy. Each error carries a stable `code` that logs, status
 * messages and exit codes key on; the original failure travels as `cause`.
 */
export type SupervisorErrorCode =
  | "CONFIG_INVALID"
  | "STATE_CORRUPT"
  | "SPAWN_FAILED"
  | "PROCESS_EXITED"
  | "HEALTH_TIMEOUT"
  | "CONFIG_REJECTED"
  | "CONFIG_APPLY_FAILED"
  | "ROLLBACK_FAILED"
  | "UPGRADE_VERIFY_FAILED"
  | "PROTOCOL_DECODE"
  | "MESSAGE_TOO_LARGE"
  | "CONNECTION_FAILED"
  | "CONNECTION_LOST"
  | "SERVER_ERROR"
  | "LISTEN_FAILED"
  | "ABORTED";

export class SupervisorError extends Error {
  readonly code: SupervisorErrorCode;

  constructor(code: SupervisorErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** supervisor.yaml or another operator-supplied file is wrong. `path` names the file. */
export class ConfigError extends SupervisorError {
  readonly path: string;
  readonly problems: readonly string[];

  constructor(path: string, problems: readonly string[], options?: { cause?: unknown }) {
    super("CONFIG_INVALID", `${path}: ${problems.join("; ")}`, options);
    this.path = path;
    this.problems = problems;
  }
}

/** The collector child could not be started, or ended when it should not have. */
export class ProcessError extends SupervisorError {
  readonly exitCode: number | null;
  readonly signal: string | null;

  constructor(
    code: "SPAWN_FAILED" | "PROCESS_EXITED",
    message: string,
    details: { exitCode?: number | null; signal?: string | null; cause?: unknown } = {},
  ) {
    super(code, message, { cause: details.cause });
    this.exitCode = details.exitCode ?? null;
    this.signal = details.signal ?? null;
  }
}

/** Bytes from the network that are not a valid OpAMP message, or a failed exchange. */
export class ProtocolError extends SupervisorError {}

/** Health could not be established or was lost. */
export class HealthError extends SupervisorError {}

/** A package could not be verified or installed. */
export class UpgradeError extends SupervisorError {}

/** Builds the error an aborted operation rejects with, keeping the abort reason as cause. */
export function abortError(signal: AbortSignal): SupervisorError {
  return new SupervisorError("ABORTED", "operation aborted", { cause: signal.reason });
}

/** Called from the default branch of an exhaustive switch; the type system proves it unreachable. */
export function unreachable(value: never): never {
  throw new Error(`unreachable state: ${JSON.stringify(value)}`);
}
