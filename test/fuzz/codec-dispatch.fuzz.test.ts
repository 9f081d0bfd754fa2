/**
 * Random and mutated ServerToAgent frames through the codec (WebSocket header, size cap,
 * protobuf decode) and the client's dispatch. Never an uncaught exception; a frame that is
 * refused is refused with a ProtocolError of a stable code; a decoded frame is acted on only
 * as the spec allows (an error response or a command stands alone, uids are 16 bytes).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { create, equals } from "@bufbuild/protobuf";
import { AgentCapabilities, ServerToAgentSchema } from "../../src/gen/opamp_pb.js";
import type { ServerToAgent } from "../../src/gen/opamp_pb.js";
import { decodeServerToAgent, unframeWs } from "../../src/opamp/codec.js";
import { agentCapabilityBits } from "../../src/opamp/convert.js";
import { dispatchMessage } from "../../src/opamp/dispatch.js";
import type { MessageHost } from "../../src/opamp/dispatch.js";
import { TransportError } from "../../src/opamp/transport.js";
import { ProtocolError, SupervisorError } from "../../src/errors.js";
import { FRAMES, SEED, TIMEOUT_MS, check, expectTypedRejection, scale } from "./budget.js";
import { encodeReply, frame, mutate, serverToAgent } from "./frames.js";
import type { Mutation } from "./frames.js";

/** Structured frames are slow to generate (~2,000/s): a slice of them, the bulk mutated from a corpus. */
const STRUCTURED = Math.min(scale(1_500), 100_000);

const ALL_CAPABILITIES = Object.values(AgentCapabilities).filter((v): v is number => typeof v === "number");

interface Recorded {
  events: string[];
  lost: TransportError[];
  errors: unknown[];
  uids: Uint8Array[];
  heartbeats: number[];
}

/** A MessageHost that records what the dispatch asked of it; `capabilities` decides `has`. */
function recordingHost(capabilities: number): { host: MessageHost; rec: Recorded } {
  const rec: Recorded = { events: [], lost: [], errors: [], uids: [], heartbeats: [] };
  let serverCaps = 0n;
  const host: MessageHost = {
    emit: ((event: string, ...args: unknown[]) => {
      rec.events.push(event);
      if (event === "clientError") rec.errors.push(args[0]);
      return true;
    }) as MessageHost["emit"],
    // ReportsStatus (bit 1) is always in the set; only the capability's own bit matters here.
    has: (capability) => (BigInt(capabilities) & agentCapabilityBits([capability]) & ~1n) !== 0n,
    serverCapabilities: () => serverCaps,
    setServerCapabilities: (bits) => (serverCaps = bits),
    connectionLost: (error) => rec.lost.push(error),
    adoptInstanceUid: (uid) => rec.uids.push(uid),
    reportFullState: () => rec.events.push("(full state)"),
    reportAvailableComponents: () => rec.events.push("(available components)"),
    setHeartbeatInterval: (ms) => rec.heartbeats.push(ms),
  };
  return { host, rec };
}

const input = fc.record({
  frame,
  /** A small cap sometimes, so the size check is fuzzed too. */
  maxBytes: fc.oneof(
    { weight: 4, arbitrary: fc.constant(64 * 1024 * 1024) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 512 }) },
  ),
  capabilities: fc.subarray(ALL_CAPABILITIES).map((bits) => bits.reduce((a, b) => a | b, 0)),
});

/** Why `outcome` breaks a rule, or null. Plain checks (no expect) so the long run stays fast. */
function violation(msg: ServerToAgent, capabilities: number): string | null {
  const { host, rec } = recordingHost(capabilities);
  dispatchMessage(msg, host);
  if (rec.events[0] !== "message") return "the decoded message was not emitted first";
  for (const error of [...rec.errors, ...rec.lost]) {
    if (!(error instanceof TransportError)) return `untyped error handed over: ${String(error)}`;
    if (!["PROTOCOL_DECODE", "SERVER_ERROR"].includes(error.code) || error.message === "")
      return `unexpected error ${error.code}: ${error.message}`;
  }
  if (rec.uids.some((uid) => uid.length !== 16)) return "adopted an instance uid that is not 16 bytes";
  const acted = rec.events.filter((e) => e !== "message" && e !== "clientError");
  if (msg.errorResponse) {
    // An error response stands alone: reported once, nothing else acted on.
    if (acted.length > 0 || rec.lost.length + rec.errors.length !== 1 || rec.uids.length > 0)
      return `an error response also did: ${acted.join(", ")}`;
  } else if (msg.command) {
    const allowed = ["serverCapabilities", "instanceUid", "command"];
    if (acted.some((e) => !allowed.includes(e)) || rec.heartbeats.length > 0)
      return `a command also did: ${acted.join(", ")}`;
  }
  const needs: Array<[string, number]> = [
    ["remoteConfig", AgentCapabilities.AgentCapabilities_AcceptsRemoteConfig],
    ["packagesAvailable", AgentCapabilities.AgentCapabilities_AcceptsPackages],
    ["command", AgentCapabilities.AgentCapabilities_AcceptsRestartCommand],
    ["(available components)", AgentCapabilities.AgentCapabilities_ReportsAvailableComponents],
  ];
  for (const [event, capability] of needs)
    if (rec.events.includes(event) && (capabilities & capability) === 0)
      return `${event} emitted without its capability`;
  return null;
}

/** Decodes one WebSocket frame: the message, or the typed rejection (anything else throws). */
function decodeFrame(bytes: Uint8Array, maxBytes: number): ServerToAgent | SupervisorError {
  try {
    return decodeServerToAgent(unframeWs(bytes, maxBytes), maxBytes);
  } catch (err) {
    if (err instanceof ProtocolError && (err.code === "PROTOCOL_DECODE" || err.code === "MESSAGE_TOO_LARGE"))
      return err;
    throw err;
  }
}

/** xorshift32: the long run's mutations, reproducible from the printed seed. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

describe("fuzz: ServerToAgent frames through the codec and the dispatch", () => {
  it(
    `${STRUCTURED} structured frames (random values, one mutation each): typed rejections only, dispatched by the rules`,
    () => {
      let decoded = 0;
      let refused = 0;
      check("codec+dispatch (structured)", input, STRUCTURED, ({ frame: f, maxBytes, capabilities }) => {
        const out = decodeFrame(f.bytes, maxBytes);
        if (out instanceof SupervisorError) {
          refused++;
          expectTypedRejection(out, ["PROTOCOL_DECODE", "MESSAGE_TOO_LARGE"]);
          // An untouched frame within the cap always decodes.
          expect(f.mutation.kind === "none" && f.bytes.length <= maxBytes).toBe(false);
          return;
        }
        decoded++;
        if (f.mutation.kind === "none")
          expect(equals(ServerToAgentSchema, out, create(ServerToAgentSchema, f.reply))).toBe(true);
        expect(violation(out, capabilities)).toBeNull();
      });
      // The mix is worth fuzzing only if both outcomes happen often.
      expect(decoded).toBeGreaterThan(STRUCTURED / 5);
      expect(refused).toBeGreaterThan(STRUCTURED / 20);
    },
    TIMEOUT_MS,
  );

  it(
    `${FRAMES} frames in all: a corpus of structured frames, each mutated many times (bit flips, truncation, huge lengths, splices)`,
    () => {
      const corpus = fc.sample(serverToAgent, { numRuns: 400, seed: SEED }).map(encodeReply);
      const random = prng(SEED);
      const pick = (n: number): number => Math.floor(random() * n);
      const started = performance.now();
      const counts = { decoded: 0, refused: 0, tooLarge: 0 };
      const mutationOf = (payload: Uint8Array): Mutation => {
        switch (pick(8)) {
          case 0:
          case 1:
            return { kind: "truncate", at: pick(payload.length + 1) };
          case 2:
          case 3:
          case 4:
            return {
              kind: "flip",
              positions: Array.from({ length: 1 + pick(4) }, () => pick(payload.length + 1) * 8 + pick(8)),
            };
          case 5:
            return {
              kind: "huge-length",
              field: 1 + pick(12),
              claimed: BigInt(Math.floor(random() * 2 ** 53)) * BigInt(1 + pick(2048)),
              at: pick(payload.length + 1),
            };
          case 6:
            return {
              kind: "splice",
              at: pick(payload.length + 1),
              garbage: Uint8Array.from({ length: 1 + pick(12) }, () => pick(256)),
            };
          default:
            return { kind: "header", header: Uint8Array.from({ length: pick(3) }, () => pick(256)) };
        }
      };
      for (let i = 0; i < FRAMES; i++) {
        const base = corpus[pick(corpus.length)] as Uint8Array;
        const m = mutationOf(base);
        const bytes = mutate(base, m);
        const maxBytes = pick(8) === 0 ? 1 + pick(256) : 64 * 1024 * 1024;
        let out: ServerToAgent | SupervisorError;
        try {
          out = decodeFrame(bytes, maxBytes);
        } catch (err) {
          throw new Error(
            `frame ${i} (seed ${SEED}, ${m.kind}): untyped rejection for hex:${Buffer.from(bytes).toString("hex")}`,
            { cause: err },
          );
        }
        if (out instanceof SupervisorError) {
          if (out.code === "MESSAGE_TOO_LARGE") counts.tooLarge++;
          else counts.refused++;
          continue;
        }
        counts.decoded++;
        const problem = violation(out, pick(2) === 0 ? 0xffff : pick(0x10000));
        if (problem)
          throw new Error(
            `frame ${i} (seed ${SEED}, ${m.kind}): ${problem}; hex:${Buffer.from(bytes).toString("hex")}`,
          );
      }
      const seconds = (performance.now() - started) / 1000;
      console.log(
        `fuzz codec+dispatch (mutated): ${FRAMES} frames in ${seconds.toFixed(1)} s, ${Math.round(FRAMES / seconds)} frames/s ` +
          `(decoded ${counts.decoded}, refused ${counts.refused}, over the cap ${counts.tooLarge}), seed ${SEED}`,
      );
      expect(counts.decoded).toBeGreaterThan(FRAMES / 20);
      expect(counts.refused).toBeGreaterThan(FRAMES / 10);
    },
    TIMEOUT_MS,
  );
});
