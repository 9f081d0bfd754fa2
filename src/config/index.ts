/** The config room: supervisor.yaml loading and collector-config composition. */
export { loadSupervisorConfig, resolveSupervisorConfig, SUPERVISOR_MAX_ALIAS_COUNT, type LoadOptions } from "./load.js";
export { parseDuration, MAX_DURATION_MS, type DurationResult } from "./duration.js";
export { expandString, type Env, type ExpandResult } from "./expand.js";
export * from "./schema.js";
export {
  composeCollectorConfig,
  deepMerge,
  mergeCollectorLayers,
  toYaml,
  parseConfigBody,
  checkConfigFileName,
  DEFAULT_MAX_CONFIG_BYTES,
  CONFIG_BODY_MAX_ALIAS_COUNT,
  type CollectorConfig,
  type ComposeInput,
  type ComposeResult,
  type ComposedHealth,
  type HealthEndpoint,
  type LocalConfigFile,
  type ParseBodyOptions,
  type ParseBodyResult,
  type RemoteConfigFile,
} from "./compose.js";
