/** The human screen of `opamp-supervisor status`: one block per subject, aligned labels. */
import type { StatusReport } from "./read.js";

const none = (v: string | number | null | undefined): string =>
  v === null || v === undefined || v === "" ? "-" : String(v);

/** A collector's error quotes its multi-line output; on this screen each value keeps to its row (--json has it as written). */
const oneLine = (text: string): string => text.replace(/\s+/g, " ").trim();

function block(title: string, rows: Array<[string, string]>): string {
  const width = Math.max(...rows.map(([label]) => label.length));
  return `${title}\n${rows.map(([label, value]) => `  ${label.padEnd(width)}  ${oneLine(value)}`).join("\n")}\n`;
}

/** "since 2026-01-02T03:04:05.000Z (5m 3s ago)". */
function since(iso: string | null, nowMs: number): string {
  if (!iso) return "-";
  const s = Math.max(0, Math.round((nowMs - Date.parse(iso)) / 1000));
  const ago =
    s >= 86_400
      ? `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`
      : s >= 3600
        ? `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`
        : s >= 60
          ? `${Math.floor(s / 60)}m ${s % 60}s`
          : `${s}s`;
  return `${iso} (${ago} ago)`;
}

/** "<time> (5s ago): <error>": a kept error says how old it is; a snapshot without lastErrorAt gives the text alone. */
function lastError(v: { lastError: string | null; lastErrorAt?: string | null }, nowMs: number): string {
  if (!v.lastError) return "-";
  return v.lastErrorAt ? `${since(v.lastErrorAt, nowMs)}: ${v.lastError}` : v.lastError;
}

export function renderStatus(report: StatusReport, nowMs: number): string {
  const out: string[] = [];
  const { live, offline } = report;
  if (live) {
    out.push(
      block(`Supervisor ${live.version}: running (${live.status})`, [
        ["instance uid", live.instanceUid],
        ["started", since(live.startedAt, nowMs)],
        ["state dir", report.stateDir],
      ]),
      block("Connection", [
        ["endpoint", live.connection.endpoint],
        ["state", `${live.connection.state}, ${since(live.connection.since, nowMs)}`],
        ["last error", lastError(live.connection, nowMs)],
      ]),
      block("Collector", [
        ["version", live.collector.version],
        ["pid", none(live.collector.pid)],
        ["health", `${live.collector.healthy ? "healthy" : "unhealthy"} (${live.collector.status})`],
        ["up", since(live.collector.since, nowMs)],
        ["restarts", String(live.collector.restarts)],
        ["last error", lastError(live.collector, nowMs)],
      ]),
      block("Remote config", [
        ["hash", none(live.remoteConfig.hash)],
        [
          "status",
          `${live.remoteConfig.status}${live.remoteConfig.at ? `, ${since(live.remoteConfig.at, nowMs)}` : ""}`,
        ],
        ["last failure", none(live.remoteConfig.error)],
      ]),
    );
    if (live.availableComponents) out.push(block("Available components", [["hash", live.availableComponents.hash]]));
    for (const p of live.package ?? [])
      out.push(
        block(`Package ${p.name || "(top level)"}`, [
          ["version", none(p.version)],
          ["status", p.status],
          ["error", none(p.error)],
        ]),
      );
  } else if (offline) {
    out.push(
      block("Supervisor: not running (from the state directory)", [
        ["instance uid", none(offline.instanceUid)],
        ["state dir", report.stateDir],
      ]),
      block("Remote config", [
        ["hash", none(offline.remoteConfig?.hash)],
        ["status", offline.remoteConfig?.status ?? "UNSET"],
        ["last failure", none(offline.remoteConfig?.error)],
        ["last working", none(offline.lastWorkingConfigHash)],
      ]),
    );
    for (const p of offline.packages)
      out.push(
        block(`Package ${p.name || "(top level)"}`, [
          ["version", none(p.version)],
          ["status", p.status],
          ["error", none(p.error)],
        ]),
      );
  }
  for (const c of report.certificates) {
    out.push(
      block("Certificate", [
        ["file", c.file],
        ["subject", c.subject],
        ["expires", `${none(c.notAfter)}${c.expired ? " (EXPIRED)" : ""}`],
      ]),
    );
  }
  const audit = report.audit.map((line) => {
    const { time, action, result, ...rest } = line;
    const extra = Object.entries(rest)
      .filter(([k]) => k === "hash" || k === "reason" || k === "version")
      .map(([k, v]) => `${k}=${typeof v === "string" ? oneLine(v) : JSON.stringify(v)}`)
      .join(" ");
    return `  ${none(time as string)}  ${none(action as string)}  ${none(result as string)}${extra ? `  ${extra}` : ""}`;
  });
  out.push(`Last audit lines\n${audit.length > 0 ? audit.join("\n") : "  (none)"}\n`);
  return out.join("\n");
}
