/**
 * The healthcheckv2 extension's `/status?verbose` body, read defensively and mapped to
 * ComponentHealth. Pure: the probe hands it bytes, tests hand it strings.
 *
 * The body is the collector's status aggregate: the collector overall, then one entry per
 * pipeline ("pipeline:traces") and one for the extensions ("extensions"), each with its
 * components ("receiver:otlp", "exporter:otlp_grpc", "extension:healthcheckv2"), every level
 * with `healthy`, `status` ("StatusOK", "StatusRecoverableError", …), `error` and
 * `status_time`; `start_time` only at the top. The keys are kept as the collector writes
 * them, so a server sees what the collector's own opamp extension would send.
 *
 * A component is healthy only while its status is StatusOK: the body's own `healthy` is
 * true for every status unless `component_health` options are set, so it can only take
 * health away.
 */
import type { ComponentHealth } from "../opamp/domain.js";

export interface StatusV2 {
  /** The collector's overall status string, e.g. "StatusRecoverableError". */
  status: string;
  error: string | undefined;
  /** `start_time` as written: it changes with every service, so it tells a reload apart. */
  startTime: string | undefined;
  /** Per pipeline (and "extensions"), each with its components. */
  components: Readonly<Record<string, ComponentHealth>>;
}

export type StatusV2Parse = { ok: true; status: StatusV2 } | { ok: false; reason: string };

/** Bounds on what one body may hold; beyond them it is an error, not a partial map. */
export const STATUS_V2_LIMITS = { depth: 4, entries: 2_000, textBytes: 1_024 } as const;

/** Parses a `/status?verbose` body. Anything that is not that shape is `{ok: false}`. */
export function parseStatusV2(body: string): StatusV2Parse {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    return { ok: false, reason: "the health status is not JSON" };
  }
  if (!isMap(doc)) return { ok: false, reason: "the health status is not a JSON object" };
  if (typeof doc.status !== "string") return { ok: false, reason: 'the health status has no "status"' };
  const startMs = timeMs(doc.start_time);
  const budget = { entries: STATUS_V2_LIMITS.entries };
  const components = childrenOf(doc, 1, startMs, budget);
  if (components === undefined) {
    return { ok: false, reason: `the health status has more than ${STATUS_V2_LIMITS.entries} entries or levels` };
  }
  return {
    ok: true,
    status: {
      status: text(doc.status),
      error: typeof doc.error === "string" && doc.error !== "" ? text(doc.error) : undefined,
      startTime: typeof doc.start_time === "string" ? text(doc.start_time) : undefined,
      components,
    },
  };
}

/** One level's `components`; undefined when the body is deeper or larger than the limits. */
function childrenOf(
  node: Record<string, unknown>,
  depth: number,
  startMs: number | undefined,
  budget: { entries: number },
): Record<string, ComponentHealth> | undefined {
  const children = node.components;
  if (!isMap(children)) return {};
  if (depth > STATUS_V2_LIMITS.depth) return undefined;
  const out: Record<string, ComponentHealth> = {};
  // Sorted: the same status always maps (and compares) the same.
  for (const key of Object.keys(children).sort()) {
    const child = children[key];
    if (!isMap(child)) continue; // not a status: nothing to say about it
    if (--budget.entries < 0) return undefined;
    const nested = childrenOf(child, depth + 1, startMs, budget);
    if (nested === undefined) return undefined;
    out[text(key)] = componentOf(child, startMs, nested);
  }
  return out;
}

function componentOf(
  node: Record<string, unknown>,
  startMs: number | undefined,
  components: Record<string, ComponentHealth>,
): ComponentHealth {
  const status = typeof node.status === "string" && node.status !== "" ? text(node.status) : "StatusNone";
  const healthy = status === "StatusOK" && node.healthy !== false;
  const error = typeof node.error === "string" ? text(node.error) : "";
  const health: ComponentHealth = {
    healthy,
    startedAtMs: RUNNING.has(status) ? startMs : undefined,
    observedAtMs: timeMs(node.status_time) ?? 0,
    status,
    lastError: error !== "" ? error : healthy ? "" : status,
  };
  return Object.keys(components).length > 0 ? { ...health, components } : health;
}

/** Statuses of a component that has started and not stopped: they get the service's start time. */
const RUNNING = new Set(["StatusOK", "StatusRecoverableError", "StatusPermanentError", "StatusStopping"]);

/** Go's time.Time JSON (RFC 3339, up to 9 fractional digits) to ms; Go's zero time is no time. */
export function timeMs(value: unknown): number | undefined {
  if (typeof value !== "string") return undefined;
  const match = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(value);
  if (!match) return undefined;
  const [, seconds = "", fraction = "", zone = ""] = match;
  const ms = Date.parse(`${seconds}${zone}`);
  if (!Number.isFinite(ms) || ms <= 0) return undefined;
  return ms + Number(fraction.padEnd(3, "0").slice(0, 3));
}

/** A string from the body, cut to a size a status message can carry. */
function text(value: string): string {
  if (Buffer.byteLength(value) <= STATUS_V2_LIMITS.textBytes) return value;
  return `${Buffer.from(value)
    .subarray(0, STATUS_V2_LIMITS.textBytes)
    .toString("utf8")
    .replace(/\uFFFD+$/, "")}…`;
}

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
