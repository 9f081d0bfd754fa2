/**
 * Wiring of the supervisor's own metrics and traces (src/telemetry/) into the parts it
 * starts: options spread into the audit log, the state store, the OpAMP client and the
 * collector controller, and the client's event listeners. Without telemetry every option
 * is empty, so those parts run exactly as they do without it.
 */
import * as fsp from "node:fs/promises";
import type { CollectorObserver } from "../collector/controller.js";
import type { ServerTarget } from "../connection/index.js";
import type { OpampClient } from "../opamp/client.js";
import type { WireMeter } from "../opamp/transport.js";
import type { AuditFs, WrittenAuditEntry } from "../storage/audit.js";
import { nodeStateFs, type StateFs } from "../storage/fs.js";
import { auditObserver } from "../telemetry/audit-observer.js";
import type { SupervisorMetrics } from "../telemetry/metrics.js";
import {
  collectorObserver,
  connectionObserver,
  countingWrites,
  recordCertificateExpiry,
  wireMeter,
} from "../telemetry/observe.js";
import type { SupervisorTracer } from "../telemetry/traces.js";

export interface SupervisorTelemetry {
  readonly metrics: SupervisorMetrics;
  readonly tracer: SupervisorTracer;
}

export interface SupervisorTelemetryWiring {
  audit: { observe?: (entry: WrittenAuditEntry) => void; fs?: AuditFs };
  store: { fs?: StateFs };
  client: { meter?: WireMeter };
  controller: { observer?: CollectorObserver };
  /** Listens to the client's connection states (and reads the certificate's expiry at each connect). */
  watch(client: OpampClient<ServerTarget>): void;
}

export function supervisorTelemetryWiring(
  own: SupervisorTelemetry | undefined,
  mask: (text: string) => string,
): SupervisorTelemetryWiring {
  if (!own) return { audit: {}, store: {}, client: {}, controller: {}, watch: () => undefined };
  const { metrics, tracer } = own;
  const readFile = (path: string): Promise<string> => fsp.readFile(path, "utf8");
  const auditFs: AuditFs = { open: fsp.open, stat: fsp.stat, rename: fsp.rename };
  return {
    audit: { observe: auditObserver({ metrics, tracer, mask }), fs: countingWrites(auditFs, "audit", metrics) },
    store: { fs: countingWrites(nodeStateFs, "state", metrics) },
    client: { meter: wireMeter(metrics) },
    controller: { observer: collectorObserver(metrics) },
    watch(client) {
      const onState = connectionObserver(metrics);
      void recordCertificateExpiry(metrics, client.target.tls, readFile);
      client.on("state", (state) => {
        onState(state);
        if (state.kind === "connected") void recordCertificateExpiry(metrics, client.target.tls, readFile);
      });
    },
  };
}
