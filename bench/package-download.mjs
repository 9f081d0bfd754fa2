// Package download benchmark: a 1 GiB package served on loopback is downloaded and verified
// with the supervisor's own code (dist/upgrade: streaming SHA-256 to a staging file, then the
// content-hash and Ed25519 checks). Reports throughput and peak RSS growth of this process
// during the download, next to `sha256sum` of the same file. Figures only, no pass/fail.
//
// Usage: npm run build && node bench/package-download.mjs [size-in-MiB]   (default 1024)
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { arch, cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { download } from "../dist/upgrade/download.js";
import { generateKeyPair, signDigest, encodePublicKey } from "../dist/upgrade/keys.js";
import { trustPolicy, verifyPackage } from "../dist/upgrade/verify.js";
import { systemClock } from "../dist/deps.js";

const MiB = 1024 * 1024;
const sizeMiB = Number(process.argv[2] ?? 1024);
const dir = await mkdtemp(join(tmpdir(), "pkg-bench-"));
const source = join(dir, "package.bin");
const dest = join(dir, ".otelcol.opamp-download-bench");

async function makeFile() {
  const block = Buffer.alloc(MiB);
  for (let i = 0; i < block.length; i += 4) block.writeUInt32LE((i * 2654435761) >>> 0, i);
  const out = createWriteStream(source);
  for (let i = 0; i < sizeMiB; i++) {
    block.writeUInt32LE(i, 0); // every MiB differs
    if (!out.write(Buffer.from(block))) await once(out, "drain");
  }
  out.end();
  await once(out, "close");
}

// The server runs in its own process so its buffers do not count against our RSS.
function serve(path) {
  const script = `
const http = require("node:http"), fs = require("node:fs");
const size = fs.statSync(process.argv[1]).size;
const server = http.createServer((req, res) => {
  res.writeHead(200, { "content-length": String(size), "content-type": "application/octet-stream" });
  fs.createReadStream(process.argv[1], { highWaterMark: 1 << 20 }).pipe(res);
});
server.listen(0, "127.0.0.1", () => process.stdout.write(String(server.address().port) + "\\n"));
`;
  const child = spawn(process.execPath, ["-e", script, path], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve) => child.stdout.once("data", (d) => resolve({ child, port: Number(String(d).trim()) })));
}

function peakRssWhile(promise) {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 10);
  return promise
    .finally(() => clearInterval(timer))
    .then((value) => ({ value, peak: Math.max(peak, process.memoryUsage.rss()) }));
}

console.log(
  `# node ${process.version}, ${arch()}, ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM`,
);
console.error(`creating a ${sizeMiB} MiB package in ${dir} …`);
await makeFile();
const size = (await stat(source)).size;
const { child, port } = await serve(source);
try {
  // Reference: sha256sum of the same file (warm page cache, as for the download).
  spawnSync("sha256sum", [source]); // warm-up
  const t0 = performance.now();
  const sum = spawnSync("sha256sum", [source], { encoding: "utf8" });
  const sumMs = performance.now() - t0;
  const expected = Buffer.from(sum.stdout.split(" ")[0], "hex");
  const key = generateKeyPair();
  const signature = signDigest(expected, key.seed);
  const policy = trustPolicy([encodePublicKey(key.publicKey)], false);

  global.gc?.();
  const before = process.memoryUsage.rss();
  const started = performance.now();
  const { value: result, peak } = await peakRssWhile(
    download({
      url: `http://127.0.0.1:${port}/package.bin`,
      headers: {},
      dest,
      maxBytes: 2 * size,
      timeoutMs: 30 * 60_000,
      idleTimeoutMs: 60_000,
      attempts: 1,
      maxRedirects: 0,
      tlsFor: async () => ({}),
      clock: systemClock,
      signal: new AbortController().signal,
    }).then((r) => {
      if (!r.ok) throw new Error(r.reason);
      const verdict = verifyPackage({ digest: r.digest, contentHash: expected, signature, policy });
      if (!verdict.ok) throw new Error(verdict.reason);
      return r;
    }),
  );
  const ms = performance.now() - started;
  const figures = [
    {
      name: "package-download+verify",
      unit: "MiB/s",
      value: round(size / MiB / (ms / 1000)),
      seconds: round(ms / 1000),
      bytes: result.size,
      peer: "loopback http",
    },
    {
      name: "package-download peak RSS growth",
      unit: "MiB",
      value: round((peak - before) / MiB),
      rssBeforeMiB: round(before / MiB),
      rssPeakMiB: round(peak / MiB),
      peer: "loopback http",
    },
    {
      name: "sha256sum same file",
      unit: "MiB/s",
      value: round(size / MiB / (sumMs / 1000)),
      seconds: round(sumMs / 1000),
      bytes: size,
      peer: "coreutils",
    },
  ];
  const rows = figures.map((f) => [
    f.name,
    f.unit,
    String(f.value),
    f.seconds !== undefined ? String(f.seconds) : "",
    f.peer,
  ]);
  const head = ["figure", "unit", "value", "seconds", "peer"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join("  ");
  console.log(line(head));
  console.log(line(widths.map((w) => "-".repeat(w))));
  for (const row of rows) console.log(line(row));
  for (const f of figures) console.log(JSON.stringify({ ...f, sizeMiB }));
} finally {
  child.kill();
  await rm(dir, { recursive: true, force: true });
}

function round(x) {
  return Math.round(x * 100) / 100;
}
