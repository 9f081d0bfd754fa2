/** OperationRecord → a span with one child span per phase. Loaded only with the SDK. */
import { ROOT_CONTEXT, SpanStatusCode, trace, type Tracer } from "@opentelemetry/api";
import type { SupervisorTracer } from "./traces.js";

export function createTracer(tracer: Tracer): SupervisorTracer {
  return {
    operation(record) {
      const start = record.endMs - record.durationMs;
      const parent = tracer.startSpan(record.name, { startTime: start, attributes: record.attributes }, ROOT_CONTEXT);
      const inside = trace.setSpan(ROOT_CONTEXT, parent);
      // Phases end where the operation ends; whatever else it did (state writes) came first.
      let at = record.endMs - record.phases.reduce((sum, phase) => sum + phase.durationMs, 0);
      for (const phase of record.phases) {
        const child = tracer.startSpan(phase.name, { startTime: at }, inside);
        at += phase.durationMs;
        child.end(at);
      }
      if (record.error !== undefined) parent.setStatus({ code: SpanStatusCode.ERROR, message: record.error });
      parent.end(record.endMs);
    },
  };
}
