#!/usr/bin/env node
// npm run chaos -- --events N --seed S [--kinds good-config,disk-full,...]
// Runs the chaos test (test/chaos/chaos.test.ts) with a long sequence; prints the seed,
// every event, and a report of counts by kind, invariant checks and failures.
import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: { events: { type: "string", default: "200" }, seed: { type: "string" }, kinds: { type: "string" } },
});
const env = { ...process.env, CHAOS_EVENTS: values.events };
if (values.seed !== undefined) env.CHAOS_SEED = values.seed;
if (values.kinds !== undefined) env.CHAOS_KINDS = values.kinds;
const r = spawnSync("npx", ["vitest", "run", "test/chaos/chaos.test.ts"], { stdio: "inherit", env });
process.exit(r.status ?? 1);
