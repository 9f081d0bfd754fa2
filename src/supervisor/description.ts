/**
 * The AgentDescription the server sees: who the collector is (service.* from its own
 * `--version`), where it runs (host and OS, named as the OpenTelemetry semantic conventions
 * name them, so fleet views group our agents with Go-managed ones), and the operator's
 * labels, which servers use to pick canary groups.
 */
import { readFileSync } from "node:fs";
import { arch, hostname, platform, release, type } from "node:os";
import type { AgentDescription, AttributeValue } from "../opamp/domain.js";

export interface DescriptionInput {
  /** Executable name the collector reports, e.g. otelcol-contrib. */
  serviceName: string;
  serviceVersion: string;
  instanceUid: string;
  identifying: Readonly<Record<string, string>>;
  nonIdentifying: Readonly<Record<string, string>>;
  /**
   * Extra non-identifying attributes, e.g. the collector's service::telemetry::resource
   * attributes (`agent.description.include_resource_attributes`). They override the host
   * facts; the operator's `non_identifying_attributes` override them.
   */
  resourceAttributes?: Readonly<Record<string, AttributeValue>>;
  /** Host facts; read from this machine when absent. */
  host?: HostFacts;
}

/** host.* and os.* as semantic-convention attributes. */
export interface HostFacts {
  "host.arch": string;
  "host.name": string;
  "os.type": string;
  "os.description": string;
  "os.version": string;
}

/** Node's process.arch → semantic conventions' host.arch (others pass through). */
const ARCH: Readonly<Record<string, string>> = {
  x64: "amd64",
  arm64: "arm64",
  arm: "arm32",
  ia32: "x86",
  ppc: "ppc32",
  ppc64: "ppc64",
  s390x: "s390x",
};

/** Node's platform → semantic conventions' os.type (others pass through). */
const OS_TYPE: Readonly<Record<string, string>> = {
  linux: "linux",
  darwin: "darwin",
  win32: "windows",
  freebsd: "freebsd",
  openbsd: "openbsd",
  sunos: "solaris",
  aix: "aix",
};

export interface HostSource {
  arch: string;
  platform: string;
  release: string;
  hostname: string;
  /** uname's name, e.g. "Linux". */
  kernelName: string;
  /** Contents of /etc/os-release, when there is one. */
  osRelease: string | undefined;
}

export function hostFacts(source: HostSource): HostFacts {
  const pretty =
    source.osRelease === undefined
      ? undefined
      : /^PRETTY_NAME=(.*)$/m
          .exec(source.osRelease)?.[1]
          ?.trim()
          .replace(/^(["'])(.*)\1$/, "$2");
  return {
    "host.arch": ARCH[source.arch] ?? source.arch,
    "host.name": source.hostname,
    "os.type": OS_TYPE[source.platform] ?? source.platform,
    // A human-readable OS version, e.g. "Debian GNU/Linux 12 (bookworm)"; uname's otherwise.
    "os.description": pretty || `${source.kernelName} ${source.release}`,
    "os.version": source.release,
  };
}

let thisHost: HostFacts | undefined;

/** This machine's facts, read once. */
export function currentHost(): HostFacts {
  thisHost ??= hostFacts({
    arch: arch(),
    platform: platform(),
    release: release(),
    hostname: hostname(),
    kernelName: type(),
    osRelease: readOsRelease(),
  });
  return thisHost;
}

function readOsRelease(): string | undefined {
  for (const path of ["/etc/os-release", "/usr/lib/os-release"]) {
    try {
      return readFileSync(path, "utf8");
    } catch {
      // not there: try the next, else fall back to uname
    }
  }
  return undefined;
}

/** Resource attributes that name the service itself: identifying, as the collector's own telemetry uses them. */
const SERVICE_KEYS = ["service.name", "service.version"] as const;

export function buildDescription(input: DescriptionInput): AgentDescription {
  const {
    [SERVICE_KEYS[0]]: name,
    [SERVICE_KEYS[1]]: version,
    "service.instance.id": _ignored,
    ...resource
  } = input.resourceAttributes ?? {};
  return {
    identifying: {
      "service.name": name ?? input.serviceName,
      "service.version": version ?? input.serviceVersion,
      // The instance uid is the supervisor's, whatever the collector's config says.
      "service.instance.id": input.instanceUid,
      ...input.identifying,
    },
    nonIdentifying: {
      ...(input.host ?? currentHost()),
      ...resource,
      ...input.nonIdentifying,
    },
  };
}

/** Reads one string attribute back (for logs and tests). */
export function attribute(description: AgentDescription, key: string): string | undefined {
  const value = description.identifying[key] ?? description.nonIdentifying[key];
  return typeof value === "string" ? value : undefined;
}
