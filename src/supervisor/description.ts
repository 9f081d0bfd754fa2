/**
 * The AgentDescription the server sees: who the collector is (service.* from its own
 * `--version`), where it runs (host and OS), and the operator's labels, which servers use
 * to pick canary groups.
 */
import { arch, hostname, platform, release } from "node:os";
import { AgentDescriptionSchema, create } from "../opamp/codec.js";
import type { AgentDescription, KeyValue } from "../opamp/codec.js";

export interface DescriptionInput {
  /** Executable name the collector reports, e.g. otelcol-contrib. */
  serviceName: string;
  serviceVersion: string;
  instanceUid: string;
  identifying: Readonly<Record<string, string>>;
  nonIdentifying: Readonly<Record<string, string>>;
}

const OS_TYPES: Record<string, string> = { linux: "linux", darwin: "darwin", win32: "windows", freebsd: "freebsd" };

export function buildDescription(input: DescriptionInput): AgentDescription {
  const identifying: Record<string, string> = {
    "service.name": input.serviceName,
    "service.version": input.serviceVersion,
    "service.instance.id": input.instanceUid,
    ...input.identifying,
  };
  const nonIdentifying: Record<string, string> = {
    "os.type": OS_TYPES[platform()] ?? platform(),
    "os.version": release(),
    "host.name": hostname(),
    "host.arch": arch(),
    ...input.nonIdentifying,
  };
  return create(AgentDescriptionSchema, {
    identifyingAttributes: toKeyValues(identifying),
    nonIdentifyingAttributes: toKeyValues(nonIdentifying),
  });
}

function toKeyValues(attrs: Record<string, string>): KeyValue[] {
  return Object.keys(attrs)
    .sort()
    .map((key) => ({ $typeName: "opamp.proto.v1.KeyValue", key, value: { $typeName: "opamp.proto.v1.AnyValue", value: { case: "stringValue", value: attrs[key] ?? "" } } }));
}

/** Reads one string attribute back (for logs and tests). */
export function attribute(description: AgentDescription, key: string): string | undefined {
  const all = [...description.identifyingAttributes, ...description.nonIdentifyingAttributes];
  const value = all.find((kv) => kv.key === key)?.value?.value;
  return value?.case === "stringValue" ? value.value : undefined;
}
