/**
 * The collector's component inventory: `<collector> components` prints YAML (go-yaml's
 * Marshal of its componentsOutput) with a list per kind, each entry a `name` and the
 * `module` it was built from ("go.opentelemetry.io/collector/receiver/otlpreceiver v0.165.0").
 *
 * It becomes AvailableComponents the way the collector's own opamp extension shapes it, so a
 * server that already understands that extension reads ours the same: one entry per kind,
 * whose sub-components are the types, each with `code.namespace` = the module as printed.
 * The hash is SHA-256 over a canonical form (kinds and types sorted), so the same binary
 * always gives the same hash and any change in the inventory changes it.
 */
import { createHash } from "node:crypto";
import { parse } from "yaml";
import type { AvailableComponents, ComponentDetails } from "../opamp/domain.js";

/** The kinds the collector prints, in the names AvailableComponents uses for them. */
export const COMPONENT_KINDS = ["receivers", "processors", "exporters", "connectors", "extensions"] as const;

export type ComponentsParse = { ok: true; components: AvailableComponents } | { ok: false; reason: string };

/** The build's name and version as `buildinfo` gives them. */
export interface BuildInfo {
  name: string | undefined;
  version: string;
}

/** Everything one read of `components` says, from one YAML parse. */
export interface Inventory {
  components: ComponentsParse;
  buildInfo: BuildInfo | undefined;
}

export function parseInventory(output: string): Inventory {
  let doc: unknown;
  try {
    doc = parse(output);
  } catch (err) {
    return {
      components: { ok: false, reason: `not YAML: ${(err as Error).message.split("\n")[0]}` },
      buildInfo: undefined,
    };
  }
  return { components: componentsOf(doc), buildInfo: buildInfoOf(doc) };
}

/** Parses `components` output. Anything that is not that shape is `{ok: false}`, never a partial list. */
export function parseComponents(output: string): ComponentsParse {
  return parseInventory(output).components;
}

function componentsOf(doc: unknown): ComponentsParse {
  if (!isMap(doc)) return { ok: false, reason: "expected a YAML map of component kinds" };
  if (!COMPONENT_KINDS.some((kind) => kind in doc)) {
    return { ok: false, reason: `none of ${COMPONENT_KINDS.join(", ")} in the output` };
  }
  const kinds: Record<string, ComponentDetails> = {};
  for (const kind of COMPONENT_KINDS) {
    const list = doc[kind] ?? [];
    if (!Array.isArray(list)) return { ok: false, reason: `${kind}: expected a list` };
    const types: Record<string, ComponentDetails> = {};
    for (const entry of list) {
      if (!isMap(entry) || typeof entry.name !== "string" || entry.name === "") {
        return { ok: false, reason: `${kind}: every entry needs a name` };
      }
      const module = typeof entry.module === "string" ? entry.module : "";
      types[entry.name] = { metadata: module === "" ? {} : { "code.namespace": module }, subComponents: {} };
    }
    kinds[kind] = { metadata: {}, subComponents: types };
  }
  return { ok: true, components: { hash: hashOf(kinds), components: kinds } };
}

function hashOf(kinds: Record<string, ComponentDetails>): Uint8Array {
  const byName = <T>(entries: Array<[string, T]>): Array<[string, T]> =>
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const canonical = byName(Object.entries(kinds)).map(([kind, details]) => [
    kind,
    byName(Object.entries(details.subComponents)).map(([type, component]) => [
      type,
      component.metadata["code.namespace"] ?? "",
    ]),
  ]);
  return new Uint8Array(createHash("sha256").update(JSON.stringify(canonical)).digest());
}

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The `buildinfo` section of `components` output: the same command and version `--version`
 * prints ("otelcol-contrib version 0.114.0"), so a start that reads the inventory anyway needs
 * no `--version` run. Undefined when the section is missing or has no version.
 */
export function parseBuildInfo(output: string): BuildInfo | undefined {
  return parseInventory(output).buildInfo;
}

function buildInfoOf(doc: unknown): BuildInfo | undefined {
  const info = isMap(doc) ? doc["buildinfo"] : undefined;
  if (!isMap(info)) return undefined;
  const version = typeof info["version"] === "string" ? info["version"].trim() : "";
  if (!/^v?\d/.test(version)) return undefined;
  const command =
    typeof info["command"] === "string" && info["command"].trim() !== "" ? info["command"].trim() : undefined;
  return { name: command, version: version.replace(/^v(?=\d)/, "") };
}
