// Runs the benchmarks named on the command line (default: all) and prints their figures.
// Usage: npm run bench [-- name ...]   names: config-push, apply-share, cold-start,
// crash-recovery, idle-footprint, wire-bytes, reconnect-spread, server-drops; and, run only
// when named (they need the Go peers of interop/build-gopeer.sh and take minutes):
// side-by-side, fleet
import { arch, cpus, totalmem } from "node:os";
import { report } from "./lib.mjs";

const ALL = [
  "config-push",
  "apply-share",
  "cold-start",
  "crash-recovery",
  "idle-footprint",
  "wire-bytes",
  "reconnect-spread",
  "server-drops",
];
const names = process.argv.slice(2).length ? process.argv.slice(2) : ALL;
console.log(
  `# node ${process.version}, ${arch()}, ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB`,
);
const figures = [];
for (const name of names) {
  const mod = await import(`./${name}.mjs`);
  console.error(`running ${name} …`);
  figures.push(...(await mod.run()));
}
report(figures);
