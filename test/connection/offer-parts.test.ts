import { describe, expect, it } from "vitest";
import { WaitingOffer, applyOfferParts } from "../../src/connection/offer-parts.js";
import type { OfferSteps, OwnTelemetryHandler } from "../../src/connection/offer-parts.js";
import type { SettingsStatus } from "../../src/connection/settings-status.js";
import type { ConnectionSettingsOffer, OfferedSettings } from "../../src/opamp/domain.js";
import { silentLogger } from "../../src/deps.js";

const opampPart: OfferedSettings = {
  endpoint: "wss://other/v1/opamp",
  headers: undefined,
  certificate: undefined,
  tls: undefined,
  hasProxy: false,
  heartbeatIntervalSeconds: 0,
};
const own = {
  endpoint: "https://c/v1/metrics",
  headers: undefined,
  certificate: undefined,
  tls: undefined,
  hasProxy: false,
};

function harness(o: {
  acceptsOpamp?: boolean;
  opampOk?: boolean;
  ownResult?: { ok: true } | { ok: false; reason: string };
}) {
  const statuses: string[] = [];
  const calls: string[] = [];
  const status = {
    lastHash: undefined as string | undefined,
    set(_hash: Uint8Array, value: string, message: string) {
      statuses.push(message ? `${value}: ${message}` : value);
      return Promise.resolve(true);
    },
  };
  const steps: OfferSteps = {
    status: status as unknown as SettingsStatus,
    acceptsOpamp: o.acceptsOpamp ?? true,
    reportsStatus: true,
    logger: silentLogger,
    applyOpamp: () => {
      calls.push("opamp");
      if (o.opampOk === false) statuses.push("FAILED: no reply");
      return Promise.resolve(o.opampOk ?? true);
    },
    failed: (reason) => {
      statuses.push(`FAILED: ${reason}`);
      return Promise.resolve(false);
    },
  };
  const handler: OwnTelemetryHandler = {
    parts: () => ({ accepted: ["metrics"], refused: [] }),
    apply: () => {
      calls.push("own");
      return Promise.resolve(o.ownResult ?? { ok: true });
    },
  };
  return { statuses, calls, steps, handler, status };
}

const offer = (parts: Partial<ConnectionSettingsOffer>): ConnectionSettingsOffer => ({
  hash: new Uint8Array([1, 2]),
  opamp: undefined,
  ...parts,
});
const signal = new AbortController().signal;

describe("applyOfferParts: one status for the whole offer", () => {
  it("APPLIED once the OpAMP part and then the own-telemetry part are applied", async () => {
    const h = harness({});
    await applyOfferParts(
      offer({ opamp: opampPart, ownMetrics: own }),
      { ownTelemetry: h.handler, refused: [] },
      h.steps,
      signal,
    );
    expect(h.calls).toEqual(["opamp", "own"]);
    expect(h.statuses).toEqual(["APPLYING", "APPLIED"]);
    expect(h.status.lastHash).toBe("0102");
  });

  it("FAILED saying the OpAMP part stays applied when the own-telemetry part fails", async () => {
    const h = harness({ ownResult: { ok: false, reason: "own_metrics: bad" } });
    await applyOfferParts(
      offer({ opamp: opampPart, ownMetrics: own }),
      { ownTelemetry: h.handler, refused: [] },
      h.steps,
      signal,
    );
    expect(h.statuses).toEqual(["APPLYING", "FAILED: own_metrics: bad (the OpAMP connection settings were applied)"]);
  });

  it("does not touch own telemetry when the OpAMP part fails", async () => {
    const h = harness({ opampOk: false });
    await applyOfferParts(
      offer({ opamp: opampPart, ownMetrics: own }),
      { ownTelemetry: h.handler, refused: [] },
      h.steps,
      signal,
    );
    expect(h.calls).toEqual(["opamp"]);
    expect(h.statuses).toEqual(["APPLYING", "FAILED: no reply"]);
  });

  it("applies own telemetry alone when OpAMP settings are not accepted, and ignores that part", async () => {
    const h = harness({ acceptsOpamp: false });
    await applyOfferParts(
      offer({ opamp: opampPart, ownMetrics: own }),
      { ownTelemetry: h.handler, refused: [] },
      h.steps,
      signal,
    );
    expect(h.calls).toEqual(["own"]);
    expect(h.statuses).toEqual(["APPLYING", "APPLIED"]);
  });

  it("FAILED naming every part turned away when nothing in the offer is taken", async () => {
    const h = harness({ acceptsOpamp: false });
    await applyOfferParts(
      offer({ opamp: opampPart, ownLogs: own }),
      { ownTelemetry: undefined, refused: ["own_logs (capabilities.reports_own_logs is false)"] },
      h.steps,
      signal,
    );
    expect(h.calls).toEqual([]);
    expect(h.statuses).toEqual([
      "FAILED: this agent does not accept OpAMP connection settings (capabilities.accepts_opamp_connection_settings is false), own_logs (capabilities.reports_own_logs is false)",
    ]);
  });

  it("does nothing for the offer it last acted on", async () => {
    const h = harness({});
    h.status.lastHash = "0102";
    await applyOfferParts(offer({ ownMetrics: own }), { ownTelemetry: h.handler, refused: [] }, h.steps, signal);
    expect(h.calls).toEqual([]);
    expect(h.statuses).toEqual([]);
  });
});

describe("WaitingOffer", () => {
  /** A queue busy with something else: the waiting operation runs when the test says so. */
  function busyQueue() {
    let latest: ((signal: AbortSignal) => Promise<void>) | undefined;
    return {
      enqueue: () => Promise.resolve(),
      enqueueLatest: (_key: string, op: (signal: AbortSignal) => Promise<void>) => {
        latest = op; // replaces a waiting one, as the supervisor's queue does
        return Promise.resolve();
      },
      runWaiting: async () => {
        const op = latest;
        latest = undefined;
        await op?.(signal);
      },
    };
  }

  it("runs only the newest of offers that arrived while busy, keeping the own-telemetry part an older one carried", async () => {
    const h = harness({});
    const q = busyQueue();
    const ran: Array<{ hash: string; offer: ConnectionSettingsOffer; own: boolean }> = [];
    const waiting = new WaitingOffer(q, h.handler, (offer, _at, parts) => {
      ran.push({ hash: Buffer.from(offer.hash).toString("hex"), offer, own: parts.ownTelemetry !== undefined });
      return Promise.resolve();
    });
    const endpoint = (e: string): OfferedSettings => ({ ...opampPart, endpoint: e });
    waiting.add({ hash: new Uint8Array([0xa]), opamp: endpoint("wss://a/v1/opamp") }, 1);
    waiting.add({ hash: new Uint8Array([0xb]), opamp: endpoint("wss://b/v1/opamp"), ownMetrics: own }, 2);
    waiting.add({ hash: new Uint8Array([0xc]), opamp: endpoint("wss://c/v1/opamp") }, 3);
    await q.runWaiting();
    await q.runWaiting();
    expect(ran).toHaveLength(1);
    expect(ran[0]?.hash).toBe("0c");
    expect(ran[0]?.offer.opamp?.endpoint).toBe("wss://c/v1/opamp");
    expect(ran[0]?.offer.ownMetrics).toBe(own);
    expect(ran[0]?.own).toBe(true);
  });

  it("queues nothing for an offer with nothing for this agent", async () => {
    const h = harness({});
    const q = busyQueue();
    let runs = 0;
    const none = { ...h.handler, parts: () => ({ accepted: [], refused: [] }) };
    const waiting = new WaitingOffer(q, none, () => {
      runs++;
      return Promise.resolve();
    });
    waiting.add(offer({}), 1);
    await q.runWaiting();
    expect(runs).toBe(0);
  });
});
