/**
 * Short-lived collector runs: `<exe> validate … --config <path>` before a config is applied,
 * and `<exe> --version` for the agent description and upgrade checks: bounded runs whose
 * whole output we want, with a timeout (SIGTERM, then SIGKILL) and a cancel signal.
 */
import { abortError, ProcessError } from "../errors.js";
import { execaSpawner } from "./spawner.js";
import type { ChildOutcome, Spawner } from "./spawner.js";
import { collectorArgs } from "./spawn.js";

export interface CommandOptions {
  /** Operator-configured collector args; validate must see the same ones as the real run. */
  args?: readonly string[];
  /** Added to the supervisor's environment, as for the real run. */
  env?: Readonly<Record<string, string>>;
  /** Default 30 s for validate, 10 s for --version. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Test seam; default execa. */
  spawn?: Spawner;
}

export interface ValidateOptions extends CommandOptions {
  /** Upper bound for the returned message, in bytes. Default 4 KiB. */
  maxMessageBytes?: number;
}

export type ValidateResult = { ok: true } | { ok: false; message: string };

/** Bounded: a collector that floods its output cannot grow our memory. */
const MAX_BUFFER = 1024 * 1024;

/** Grace between SIGTERM and SIGKILL for a run that timed out or was cancelled. */
const FORCE_KILL_AFTER_MS = 2_000;

async function run(
  executable: string,
  argv: string[],
  options: CommandOptions,
  timeoutMs: number,
): Promise<ChildOutcome> {
  const { signal } = options;
  if (signal?.aborted) throw abortError(signal);
  const spawn = options.spawn ?? execaSpawner;
  const child = await spawn({
    file: executable,
    args: argv,
    env: { ...process.env, ...options.env },
    timeoutMs,
    ...(signal ? { cancelSignal: signal } : {}),
    forceKillAfterMs: FORCE_KILL_AFTER_MS,
    buffer: true,
    maxBufferBytes: MAX_BUFFER,
  });
  const outcome = await child.outcome;
  if (signal?.aborted) throw abortError(signal);
  return outcome;
}

/**
 * Runs `<executable> validate <args> --config <path>…`. Resolves `{ok: false, message}`
 * with the collector's own error text when it rejects the config (or times out); throws
 * only when validation could not run at all (SPAWN_FAILED, ABORTED).
 */
export async function runValidate(
  executable: string,
  configPath: string | readonly string[],
  options: ValidateOptions = {},
): Promise<ValidateResult> {
  const configPaths = typeof configPath === "string" ? [configPath] : configPath;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const argv = [
    "validate",
    ...collectorArgs({ executable, configPaths, ...(options.args ? { args: options.args } : {}) }),
  ];
  const outcome = await run(executable, argv, options, timeoutMs);
  if (outcome.timedOut) return { ok: false, message: `validate did not finish within ${timeoutMs} ms` };
  if (outcome.code === 0) return { ok: true };
  const text = validateErrorText(outcome.stderr) || outcome.stdout.trim();
  const fallback = outcome.signal
    ? `validate killed by ${outcome.signal}`
    : `validate exited with code ${outcome.code}`;
  return { ok: false, message: boundText(text || fallback, options.maxMessageBytes ?? 4096) };
}

// Builder-generated mains before collector v0.144 repeat the error on a second, log-style
// line ("2026/01/02 03:04:05 collector server run finished with error: …"); drop it.
const RUN_FINISHED = /^\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2} collector server run finished with error:/;

/** The collector's error text from validate's stderr, without the duplicate trailer line. */
export function validateErrorText(stderr: string): string {
  const lines = stderr.trim().split("\n");
  const hasError = lines.some((line) => line.startsWith("Error: "));
  return lines
    .filter((line) => !(hasError && RUN_FINISHED.test(line)))
    .join("\n")
    .trim();
}

/** Cuts `text` to at most `maxBytes` UTF-8 bytes, marking the cut. */
export function boundText(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  const full = " …(truncated)";
  const marker = Buffer.byteLength(full) < maxBytes ? full : "";
  const room = maxBytes - Buffer.byteLength(marker);
  let cut = Buffer.from(text).subarray(0, room).toString("utf8");
  while (cut !== "" && Buffer.byteLength(cut) > room) cut = cut.slice(0, -1);
  return cut + marker;
}

const VERSION_LINE = /\bversion\s+v?(\d[^\s]*)/i;

/** Parses `<name> version <v>` (optional leading "v"); undefined when absent. */
export function parseVersion(output: string): string | undefined {
  return VERSION_LINE.exec(output)?.[1];
}

/**
 * Runs `<executable> --version` and returns the version. Throws ProcessError: SPAWN_FAILED
 * when it cannot run, PROCESS_EXITED when it fails, times out or prints no version.
 */
export async function readVersion(executable: string, options: CommandOptions = {}): Promise<string> {
  return (await readVersionInfo(executable, options)).version;
}

/**
 * Runs `<executable> --version`: the version, and the name the collector calls itself
 * (`otelcol-contrib version 0.114.0` → otelcol-contrib), which is what it puts in its own
 * telemetry as service.name. Throws like readVersion.
 */
export async function readVersionInfo(
  executable: string,
  options: CommandOptions = {},
): Promise<{ name: string | undefined; version: string }> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const outcome = await run(executable, [...(options.args ?? []), "--version"], options, timeoutMs);
  const details = { exitCode: outcome.code, signal: outcome.signal };
  if (outcome.timedOut) {
    throw new ProcessError("PROCESS_EXITED", `${executable} --version did not finish within ${timeoutMs} ms`, details);
  }
  const output = `${outcome.stdout}\n${outcome.stderr}`.trim();
  if (outcome.code !== 0) {
    throw new ProcessError(
      "PROCESS_EXITED",
      `${executable} --version failed (${outcome.signal ?? `code ${outcome.code}`}): ${boundText(output, 1024)}`,
      details,
    );
  }
  const text = parseVersion(outcome.stdout) !== undefined ? outcome.stdout : outcome.stderr;
  const version = parseVersion(text);
  if (version === undefined) {
    throw new ProcessError(
      "PROCESS_EXITED",
      `${executable} --version printed no version: ${boundText(output, 1024)}`,
      details,
    );
  }
  return { name: parseName(text), version };
}

const NAME_LINE = /^\s*(\S+)\s+version\s+v?\d/im;

/** The word before "version" on the version line, if any. */
export function parseName(output: string): string | undefined {
  return NAME_LINE.exec(output)?.[1];
}

/**
 * Runs `<executable> components` and returns its stdout (the YAML inventory). Takes the
 * run's environment but none of its args: the collector's `components` accepts no config or
 * feature-gate flags and fails on them. Throws ProcessError like readVersion, so a
 * collector without the command (an old or custom build) is one catchable failure.
 */
export async function readComponentsOutput(executable: string, options: CommandOptions = {}): Promise<string> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const outcome = await run(executable, ["components"], options, timeoutMs);
  const details = { exitCode: outcome.code, signal: outcome.signal };
  if (outcome.timedOut) {
    throw new ProcessError("PROCESS_EXITED", `${executable} components did not finish within ${timeoutMs} ms`, details);
  }
  if (outcome.code !== 0) {
    const output = `${outcome.stdout}\n${outcome.stderr}`.trim();
    throw new ProcessError(
      "PROCESS_EXITED",
      `${executable} components failed (${outcome.signal ?? `code ${outcome.code}`}): ${boundText(output, 1024)}`,
      details,
    );
  }
  return outcome.stdout;
}
