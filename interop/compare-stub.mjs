#!/usr/bin/env node
// Runs the real collector (interop/bin/otelcol-interop) and the stub
// (fixtures/otelcol-stub/otelcol-stub.mjs) through the same cases and prints what each did,
// marking the cases where they differ. Evidence for keeping the stub honest.
//
//   node interop/compare-stub.mjs            # all cases, differences marked with "≠"
//   node interop/compare-stub.mjs --json     # machine-readable
//
// Only loopback ports are used; every process it starts is stopped before it exits.
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const PEERS = {
  real: join(ROOT, "interop/bin/otelcol-interop"),
  stub: join(ROOT, "fixtures/otelcol-stub/otelcol-stub.mjs"),
};
const dir = mkdtempSync(join(tmpdir(), "compare-stub-"));
// The interop build has healthcheckv2: compare with the stub build that has it too.
process.env.OTELCOL_STUB_HEALTHCHECKV2 = "1";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function freePort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

async function holdPort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, "127.0.0.1", r));
  return s;
}

function start(exe, args) {
  const child = spawn(exe, args, { stdio: ["ignore", "pipe", "pipe"], cwd: dir });
  const out = { stdout: "", stderr: "" };
  child.stdout.setEncoding("utf8").on("data", (c) => (out.stdout += c));
  child.stderr.setEncoding("utf8").on("data", (c) => (out.stderr += c));
  const t0 = performance.now();
  const exited = new Promise((r) => child.once("exit", (code, signal) => r({ code, signal, ms: Math.round(performance.now() - t0) })));
  return { child, out, exited, t0 };
}

async function runToEnd(exe, args, timeoutMs = 10_000) {
  const p = start(exe, args);
  const timer = setTimeout(() => p.child.kill("SIGKILL"), timeoutMs);
  const exit = await p.exited;
  clearTimeout(timer);
  return { exit: exit.signal ?? exit.code, stdout: p.out.stdout, stderr: errorLines(p.out.stderr) };
}

/** The lines a supervisor would quote: everything but the collector's info/debug log lines. */
function errorLines(text) {
  return text
    .split("\n")
    .filter((l) => l && !/^\d{4}-\d\d-\d\dT\S+\t(info|debug)\t/.test(l))
    .map((l) => l.replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d /, "<date> <time> ").replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, "<ts>"))
    .join("\n");
}

async function get(port, path = "/") {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(500) });
    return { status: res.status, type: res.headers.get("content-type"), body: await res.text() };
  } catch (err) {
    return { status: `ERR ${err.cause?.code ?? err.name}` };
  }
}

async function waitStatus(port, want, timeoutMs = 5_000) {
  const t0 = performance.now();
  while (performance.now() - t0 < timeoutMs) {
    const r = await get(port);
    if (r.status === want) return Math.round(performance.now() - t0);
    await sleep(2);
  }
  return undefined;
}

const cfg = ({ health, otlp = 0, pipelines, extra = "", telemetry = true } = {}) =>
  `receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${otlp}
exporters:
  debug: {}
extensions:
  health_check:
    endpoint: 127.0.0.1:${health}
service:
  extensions: [health_check]
${telemetry ? "  telemetry:\n    metrics:\n      level: none\n" : ""}  pipelines:
${pipelines ?? "    traces:\n      receivers: [otlp]\n      exporters: [debug]\n"}${extra}`;

function file(name, text) {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

// ----- cases -----
const validateCases = {
  "no --config": [],
  "good config": () => ["--config", file("good.yaml", cfg({ health: 1 }))],
  "undefined receiver in a pipeline": () => ["--config", file("undef.yaml", cfg({ health: 1, pipelines: "    traces:\n      receivers: [nope]\n      exporters: [debug]\n" }))],
  "unknown key inside a component (otlp.protocols.http.bogus)": () => [
    "--config",
    file("badkey.yaml", "receivers:\n  otlp:\n    protocols:\n      http:\n        bogus: 1\nexporters:\n  debug: {}\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [debug]\n"),
  ],
  "unknown component type (receivers.foo)": () => [
    "--config",
    file("foo.yaml", "receivers:\n  foo: {}\nexporters:\n  debug: {}\nservice:\n  pipelines:\n    traces:\n      receivers: [foo]\n      exporters: [debug]\n"),
  ],
  "unknown key under service": () => ["--config", file("svc.yaml", cfg({ health: 1, extra: "  bogus: 1\n" }))],
  "unknown top-level key (stub:)": () => ["--config", file("stubkey.yaml", cfg({ health: 1 }) + "stub: {}\n")],
  "unparsable YAML": () => ["--config", file("yaml.yaml", "receivers: [\n")],
  "missing file": () => ["--config", join(dir, "missing.yaml")],
  "same exporter twice in a pipeline": () => ["--config", file("dup.yaml", cfg({ health: 1, pipelines: "    traces:\n      receivers: [otlp]\n      exporters: [debug, debug]\n" }))],
  "no pipelines": () => ["--config", file("nopipe.yaml", cfg({ health: 1, pipelines: "    {}\n" }).replace("  pipelines:\n    {}\n", "  pipelines: {}\n"))],
  "pipeline without receivers": () => ["--config", file("norecv.yaml", cfg({ health: 1, pipelines: "    traces:\n      exporters: [debug]\n" }))],
  "invalid endpoint (no port) for the health_check": () => ["--config", file("ep.yaml", cfg({ health: 1 }).replace("127.0.0.1:1\n", "localhost\n"))],
};

async function caseVersion(exe) {
  return { "--version": await runToEnd(exe, ["--version"]), "-v": await runToEnd(exe, ["-v"]), "unknown flag --bogus": await runToEnd(exe, ["--bogus"]) };
}

async function caseValidate(exe) {
  const out = {};
  for (const [name, args] of Object.entries(validateCases)) {
    out[`validate: ${name}`] = await runToEnd(exe, ["validate", ...(typeof args === "function" ? args() : args)]);
  }
  return out;
}

async function caseRun(exe) {
  const out = {};
  // Start-up, health responses, SIGTERM / SIGINT.
  {
    const port = await freePort();
    const p = start(exe, ["--config", file(`run-${port}.yaml`, cfg({ health: port }))]);
    const firstAnswerMs = await waitStatus(port, 200);
    out["run: spawn to first 200 (ms, indicative)"] = firstAnswerMs;
    const ok = await get(port);
    out["run: healthy response"] = { status: ok.status, type: ok.type, bodyKeys: ok.body && Object.keys(JSON.parse(ok.body)) };
    out["run: GET /other-path on a path:/ health_check"] = (await get(port, "/other")).status;
    out["run: stdout while running"] = p.out.stdout === "" ? "(empty)" : p.out.stdout.slice(0, 200);
    out["run: stderr log line format"] = p.out.stderr.split("\n")[0]?.replace(/^\S+/, "<ts>").slice(0, 120);
    p.child.kill("SIGTERM");
    const e = await p.exited;
    out["run: SIGTERM when ready -> exit"] = e.signal ?? e.code;
    out["run: last stderr line after SIGTERM"] = p.out.stderr.trim().split("\n").at(-1)?.replace(/^\S+/, "<ts>").slice(0, 120);
  }
  {
    const port = await freePort();
    const p = start(exe, ["--config", file(`int-${port}.yaml`, cfg({ health: port }))]);
    await waitStatus(port, 200);
    p.child.kill("SIGINT");
    const e = await p.exited;
    out["run: SIGINT when ready -> exit"] = e.signal ?? e.code;
  }
  // SIGHUP: what the health endpoint answers, in order, from the signal until healthy again.
  {
    const port = await freePort();
    const p = start(exe, ["--config", file(`hup-${port}.yaml`, cfg({ health: port }))]);
    await waitStatus(port, 200);
    await sleep(100);
    const before = JSON.parse((await get(port)).body).upSince;
    const seq = [];
    const t0 = performance.now();
    p.child.kill("SIGHUP");
    let last;
    while (performance.now() - t0 < 1_500) {
      const r = await get(port);
      const key = r.status === 200 ? `200 upSince ${JSON.parse(r.body).upSince === before ? "old" : "new"}` : String(r.status);
      if (key !== last) seq.push(`${Math.round(performance.now() - t0)}ms ${key}`);
      last = key;
      if (key === "200 upSince new") break;
    }
    out["run: SIGHUP timeline (health answers)"] = seq.join(" -> ");
    out["run: SIGHUP same pid"] = p.child.exitCode === null;
    // Reload with a config that cannot start (its receiver port is taken).
    const blocker = await holdPort();
    writeFileSync(join(dir, `hup-${port}.yaml`), cfg({ health: port, otlp: blocker.address().port }));
    p.child.kill("SIGHUP");
    const e = await Promise.race([p.exited, sleep(3_000).then(() => "still running")]);
    out["run: SIGHUP to a config whose receiver port is taken -> exit"] = typeof e === "string" ? e : (e.signal ?? e.code);
    out["run: ... its error"] = errorLines(p.out.stderr).split("\n").filter((l) => l.startsWith("Error") || l.startsWith("<date>")).join("\n");
    blocker.close();
    if (p.child.exitCode === null) p.child.kill("SIGKILL");
    // Reload with a config validate would reject.
    const port2 = await freePort();
    const q = start(exe, ["--config", file(`hup2-${port2}.yaml`, cfg({ health: port2 }))]);
    await waitStatus(port2, 200);
    await sleep(100);
    writeFileSync(join(dir, `hup2-${port2}.yaml`), cfg({ health: port2, pipelines: "    traces:\n      receivers: [nope]\n      exporters: [debug]\n" }));
    q.child.kill("SIGHUP");
    const e2 = await Promise.race([q.exited, sleep(3_000).then(() => "still running")]);
    out["run: SIGHUP to an invalid config -> exit"] = typeof e2 === "string" ? e2 : (e2.signal ?? e2.code);
    out["run: ... its error"] += "\n" + errorLines(q.out.stderr).split("\n").filter((l) => l.startsWith("Error") || l.startsWith("<date>")).join("\n");
    if (q.child.exitCode === null) q.child.kill("SIGKILL");
  }
  // Signals before the service is ready (right after spawn).
  for (const sig of ["SIGHUP", "SIGTERM"]) {
    const port = await freePort();
    const p = start(exe, ["--config", file(`early-${sig}-${port}.yaml`, cfg({ health: port }))]);
    await sleep(3);
    p.child.kill(sig);
    const e = await p.exited;
    out[`run: ${sig} 3 ms after spawn -> exit`] = e.signal ?? e.code;
  }
  // Ports in use.
  for (const which of ["health_check", "otlp receiver"]) {
    const blocker = await holdPort();
    const taken = blocker.address().port;
    const health = which === "health_check" ? taken : await freePort();
    const otlp = which === "health_check" ? 0 : taken;
    const r = await runToEnd(exe, ["--config", file(`inuse-${taken}.yaml`, cfg({ health, otlp }))], 3_000);
    out[`run: ${which} port in use`] = r;
    blocker.close();
  }
  // Internal telemetry left at its default (no service.telemetry): what does it bind?
  {
    const blocker = await holdPort().catch(() => undefined);
    blocker?.close();
    const port = await freePort();
    const p = start(exe, ["--config", file(`tele-${port}.yaml`, cfg({ health: port, telemetry: false }))]);
    await waitStatus(port, 200, 3_000);
    out["run: default telemetry serves localhost:8888/metrics"] = (await get(8888, "/metrics")).status;
    p.child.kill("SIGTERM");
    await p.exited;
  }
  // Run mode with a config validate rejects.
  out["run: invalid config"] = await runToEnd(exe, ["--config", join(dir, "undef.yaml")]);
  return out;
}

/** healthcheckv2: the /status bodies' shape (times masked), codes and paths, ready and validate. */
async function caseHealthV2(exe) {
  const out = {};
  const mask = (body) => {
    try {
      return JSON.parse(body, (k, v) => (k === "start_time" || k === "status_time" ? "<time>" : v));
    } catch {
      return body;
    }
  };
  const port = await freePort();
  const v2 = (ext) =>
    `receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:0\nexporters:\n  debug: {}\n  debug/2: {}\n` +
    `extensions:\n  healthcheckv2: ${ext}\nservice:\n  extensions: [healthcheckv2]\n  telemetry:\n    metrics:\n      level: none\n` +
    `  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [debug, debug/2]\n    logs:\n      receivers: [otlp]\n      exporters: [debug]\n`;
  for (const [name, ext] of [
    ["no protocol", "{use_v2: true}"],
    ["empty http endpoint", '{use_v2: true, http: {endpoint: ""}}'],
    ["status path without /", "{use_v2: true, http: {status: {path: x}}}"],
  ])
    out[`healthcheckv2 validate: ${name}`] = await runToEnd(exe, ["validate", "--config", file(`v2-${name.replace(/\W/g, "")}.yaml`, v2(ext))]);
  const p = start(exe, ["--config", file(`v2-${port}.yaml`, v2(`{use_v2: true, http: {endpoint: "127.0.0.1:${port}"}}`))]);
  const t0 = performance.now();
  while (performance.now() - t0 < 5_000 && (await get(port, "/status")).status !== 200) await sleep(5);
  for (const path of ["/status?verbose", "/status", "/status?pipeline=traces&verbose", "/status?pipeline=nope", "/"]) {
    const r = await get(port, path);
    out[`healthcheckv2 GET ${path}`] = { status: r.status, type: r.type, body: r.body === undefined ? undefined : mask(r.body) };
  }
  p.child.kill("SIGTERM");
  await p.exited;
  return out;
}

const results = {};
for (const [name, exe] of Object.entries(PEERS)) {
  results[name] = {
    ...(await caseVersion(exe)),
    ...(await caseValidate(exe)),
    ...(await caseRun(exe)),
    ...(await caseHealthV2(exe)),
  };
}

if (process.argv.includes("--json")) {
  console.log(JSON.stringify(results, null, 2));
} else {
  const keys = Object.keys(results.real);
  for (const k of keys) {
    const a = JSON.stringify(results.real[k]);
    const b = JSON.stringify(results.stub[k]);
    const show = (v) => (typeof v === "string" ? v : JSON.stringify(v, null, 1)).replace(/\n/g, "\n      ");
    console.log(`${a === b ? "=" : "≠"} ${k}`);
    if (a === b) console.log(`    both: ${show(results.real[k])}`);
    else {
      console.log(`    real: ${show(results.real[k])}`);
      console.log(`    stub: ${show(results.stub[k])}`);
    }
  }
}
