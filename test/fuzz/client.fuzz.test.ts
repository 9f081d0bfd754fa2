/**
 * Random and mutated ServerToAgent frames sent by the in-process test server to a real
 * OpampClient over WebSocket: whatever arrives, the client reports problems only as typed
 * TransportErrors, reconnects after a frame it cannot read, and still hears the next good
 * frame. (Retry-after and heartbeat values are kept to seconds here: timers beyond 2^31 ms
 * are a known, reported fault of today's client.)
 */
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { OpampClient } from "../../src/opamp/client.js";
import { encodeServerToAgent, frameWs, newServerToAgent } from "../../src/opamp/codec.js";
import { createDefaultDeps, silentLogger, systemClock } from "../../src/deps.js";
import type { TransportError } from "../../src/opamp/transport.js";
import { BASIC_CAPABILITIES, TEST_UID } from "../support/client-fixture.js";
import { OpampTestServer } from "../support/opamp-test-server.js";
import type { Reply } from "../support/opamp-test-server.js";
import { SEED, TIMEOUT_MS, expectTypedRejection, scale } from "./budget.js";
import { encodeReply, frame, mutate } from "./frames.js";

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

/** Keeps every timer the frame can set within seconds (see the header). */
function tame(reply: Reply): Reply {
  const r = structuredClone(reply) as {
    errorResponse?: { Details?: unknown };
    connectionSettings?: { opamp?: { heartbeatIntervalSeconds?: bigint } };
  };
  if (r.errorResponse) delete r.errorResponse.Details;
  if (r.connectionSettings?.opamp?.heartbeatIntervalSeconds !== undefined)
    r.connectionSettings.opamp.heartbeatIntervalSeconds %= 5n;
  return r as Reply;
}

async function until(what: string, ok: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe("fuzz: frames from a hostile server to a running client", () => {
  it(
    "the client survives every frame, reports typed errors and still hears the next good frame",
    async () => {
      const server = await OpampTestServer.start();
      const client = new OpampClient({
        target: { endpoint: server.wsUrl },
        instanceUid: TEST_UID,
        capabilities: BASIC_CAPABILITIES,
        backoff: { initialMs: 1, maxMs: 5, multiplier: 1.5, jitter: 0 },
        deps: createDefaultDeps({ clock: systemClock, random: () => 0.5, logger: silentLogger }),
      });
      cleanup = async () => {
        client.destroy();
        await server.close();
      };
      const errors: TransportError[] = [];
      const heard = new Set<string>();
      client.on("clientError", (e) => errors.push(e));
      client.on("customMessage", (m) => heard.add(m.type));
      client.start();
      await until("the first connection", () => server.openSockets === 1);

      const frames = fc.sample(frame, { numRuns: scale(150), seed: SEED });
      const started = performance.now();
      for (const [i, f] of frames.entries()) {
        // Mutations too start from the tamed reply: a bit flip elsewhere leaves a huge
        // retry_info intact, and the client then rightly waits that long before reconnecting.
        const bytes =
          f.mutation.kind === "none"
            ? frameWs(encodeServerToAgent(newServerToAgent(tame(f.reply))))
            : mutate(encodeReply(tame(f.reply)), f.mutation);
        const connectionsBefore = new Set(server.received.map((r) => r.connection)).size;
        await until(`an open socket before frame ${i} (seed ${SEED})`, () => server.openSockets === 1);
        server.sendRaw(bytes);
        // A marker right behind it: heard when the frame was taken, lost when it broke the connection.
        const marker = `fuzz-${i}`;
        server.push({ customMessage: { capability: "fuzz", type: marker } });
        await until(
          `frame ${i} (${f.mutation.kind}, seed ${SEED}) to be taken or to end the connection`,
          () => heard.has(marker) || new Set(server.received.map((r) => r.connection)).size > connectionsBefore,
        );
      }
      console.log(
        `fuzz client: ${frames.length} frames in ${((performance.now() - started) / 1000).toFixed(1)} s, ${errors.length} errors reported, seed ${SEED}`,
      );
      for (const e of errors)
        expectTypedRejection(e, [
          "PROTOCOL_DECODE",
          "MESSAGE_TOO_LARGE",
          "CONNECTION_LOST",
          "CONNECTION_FAILED",
          "SERVER_ERROR",
        ]);
      // After all of it, a good frame still gets through. The last hostile frame may have
      // started a reconnect the client decided on after taking it (offered settings to try),
      // and a frame pushed on the connection it is leaving is lost: push again on each newer one.
      const newest = (): number => Math.max(0, ...server.received.map((r) => r.connection));
      let pushedOn = 0;
      await until("the last good frame", () => {
        if (server.openSockets === 1 && newest() !== pushedOn) {
          pushedOn = newest();
          server.push({ customMessage: { capability: "fuzz", type: "last" } });
        }
        return heard.has("last");
      });
      await until("connected", () => client.state.kind === "connected");
      expect(errors.length).toBeGreaterThan(0);
    },
    TIMEOUT_MS,
  );
});
