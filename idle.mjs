const t0 = process.cpuUsage();
const end = Date.now() + 40_000;
while (Date.now() < end) await new Promise((r) => setTimeout(r, 1000));
const u = process.cpuUsage(t0);
console.log("timer only cpu ms", ((u.user + u.system) / 1000).toFixed(1));
