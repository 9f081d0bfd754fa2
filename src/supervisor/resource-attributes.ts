/**
 * `agent.description.include_resource_attributes`: the attributes the collector puts on its
 * own telemetry (`service::telemetry::resource` of the effective config) join the agent
 * description, so the fleet view and the collector's own metrics name the agent alike.
 */
import { parse } from "yaml";
import type { AttributeValue } from "../opamp/domain.js";

/**
 * Both forms the collector accepts: a plain map (`key: value`; a null value removes the
 * attribute, so it is left out) and the declarative `attributes: [{name, value}]` list.
 * A config that is not YAML, or has no resource section, has none.
 */
export function resourceAttributesOf(yaml: string): Record<string, AttributeValue> {
  let doc: unknown;
  try {
    doc = parse(yaml, { maxAliasCount: 100 });
  } catch {
    return {};
  }
  const resource = at(doc, ["service", "telemetry", "resource"]);
  if (!isMap(resource)) return {};
  const out: Record<string, AttributeValue> = {};
  const list = resource["attributes"];
  if (Array.isArray(list)) {
    for (const entry of list) {
      if (isMap(entry) && typeof entry["name"] === "string" && isScalar(entry["value"]))
        out[entry["name"]] = entry["value"];
    }
    return out;
  }
  for (const [key, value] of Object.entries(resource)) if (isScalar(value)) out[key] = value;
  return out;
}

function at(doc: unknown, path: readonly string[]): unknown {
  let node = doc;
  for (const key of path) node = isMap(node) ? node[key] : undefined;
  return node;
}

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isScalar(value: unknown): value is AttributeValue {
  return (
    typeof value === "string" || typeof value === "boolean" || (typeof value === "number" && Number.isFinite(value))
  );
}
