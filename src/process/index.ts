export { runValidate, readVersion, readVersionInfo, parseName, parseVersion, validateErrorText } from "./commands.js";
export type { CommandOptions, ValidateOptions, ValidateResult } from "./commands.js";
export { CollectorProcess } from "./collector-process.js";
export type {
  ChildRun,
  CollectorEvents,
  CollectorProcessOptions,
  CollectorState,
  OutputMode,
  ReloadResult,
  StartOptions,
} from "./collector-types.js";
export { describeExitStatus, exitError, formatExit, waitForExit } from "./exit.js";
export type { ExitResult, ExitStatus } from "./exit.js";
export { DEFAULT_STOP_TIMEOUT_MS, killProcess, stopProcess } from "./kill.js";
export type { StopOutcome, StopProcessOptions } from "./kill.js";
export { captureOutput, DEFAULT_TAIL_BYTES, LineSplitter, TailBuffer } from "./output.js";
export type { OutputCapture, OutputSink } from "./output.js";
export { reapLeftover, readPidFile, removePidFile, writePidFile } from "./pidfile.js";
export type { PidRecord, ReapOptions, ReapResult } from "./pidfile.js";
export { DEFAULT_RESTART_POLICY, RestartPolicy } from "./restart-policy.js";
export type { RestartDecision, RestartPolicyOptions } from "./restart-policy.js";
export { buildCommand, findSetpriv, signalProcessGroup, spawnCollector } from "./spawn.js";
export type { CollectorCommand, DeathSignalOption, SpawnCollectorOptions, SpawnedCollector } from "./spawn.js";
