import { randomBytes } from "node:crypto";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { systemClock } from "../../src/deps.js";
import { download } from "../../src/upgrade/download.js";
import type { DownloadOptions } from "../../src/upgrade/download.js";
import { PackageFileServer } from "../support/package-file-server.js";
import { selfSigned, sha256 } from "./fixtures.js";

let dir: string;
let files: PackageFileServer;
const body = randomBytes(300 * 1024);

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "download-"));
  files = await PackageFileServer.start();
});
afterEach(async () => {
  await files.close();
  await rm(dir, { recursive: true, force: true });
});

function options(url: string, extra: Partial<DownloadOptions> = {}): DownloadOptions {
  return {
    url,
    headers: {},
    dest: join(dir, "pkg.partial"),
    maxBytes: 1 << 20,
    timeoutMs: 10_000,
    idleTimeoutMs: 2_000,
    attempts: 3,
    maxRedirects: 3,
    tlsFor: async () => ({}),
    clock: systemClock,
    signal: new AbortController().signal,
    ...extra,
  };
}

describe("download", () => {
  it("streams the file to disk and returns its SHA-256, reporting progress", async () => {
    const url = files.serve("/pkg", { body });
    const seen: number[] = [];
    const result = await download(options(url, { onProgress: (received) => seen.push(received) }));
    expect(result).toEqual({ ok: true, digest: new Uint8Array(sha256(body)), size: body.length, attempts: 1 });
    expect(await readFile(join(dir, "pkg.partial"))).toEqual(body);
    expect(seen.at(-1)).toBe(body.length);
    expect(files.requests[0]?.headers["accept-encoding"]).toBe("identity");
  });

  it("sends the offered headers", async () => {
    const url = files.serve("/pkg", { body, requireHeader: { name: "authorization", value: "Bearer t" } });
    expect((await download(options(url))).ok).toBe(false);
    expect((await download(options(url, { headers: { authorization: "Bearer t" } }))).ok).toBe(true);
  });

  it("resumes an interrupted transfer with a Range request", async () => {
    const url = files.serve("/pkg", { body, dropAfterBytes: 100 * 1024 });
    const attempts: Array<{ offset: number; status: number }> = [];
    const result = await download(
      options(url, { onAttempt: (a) => attempts.push({ offset: a.offset, status: a.status }) }),
    );
    expect(result).toMatchObject({ ok: true, size: body.length, attempts: 2 });
    if (result.ok) expect(Buffer.from(result.digest)).toEqual(sha256(body));
    expect(files.requests.map((r) => r.range)).toEqual([undefined, expect.stringMatching(/^bytes=\d+-$/)]);
    expect(attempts[1]?.status).toBe(206);
    expect(attempts[1]?.offset).toBeGreaterThan(0);
  });

  it("resumes a partial file left by an earlier run", async () => {
    await writeFile(join(dir, "pkg.partial"), body.subarray(0, 1234));
    const url = files.serve("/pkg", { body });
    const result = await download(options(url));
    expect(result.ok).toBe(true);
    if (result.ok) expect(Buffer.from(result.digest)).toEqual(sha256(body));
    expect(files.requests[0]?.range).toBe("bytes=1234-");
  });

  it("takes a complete partial file as done when the server says the range is past the end", async () => {
    await writeFile(join(dir, "pkg.partial"), body);
    const url = files.serve("/pkg", { body });
    const result = await download(options(url));
    expect(result).toMatchObject({ ok: true, size: body.length });
    expect(files.requests[0]?.status).toBe(416);
  });

  it("starts over when the server ignores Range", async () => {
    await writeFile(join(dir, "pkg.partial"), Buffer.from("stale bytes from something else"));
    const url = files.serve("/pkg", { body, noRanges: true });
    const result = await download(options(url));
    expect(result.ok).toBe(true);
    expect(await readFile(join(dir, "pkg.partial"))).toEqual(body);
  });

  it("refuses a package over the size cap without retrying", async () => {
    const url = files.serve("/pkg", { body });
    const result = await download(options(url, { maxBytes: 1000 }));
    expect(result).toMatchObject({ ok: false, transient: false, attempts: 1, reason: expect.stringMatching(/cap/) });
  });

  it("does not retry a 404, retries a 503 until the attempts run out", async () => {
    expect(await download(options(files.url("/missing")))).toMatchObject({
      ok: false,
      transient: false,
      attempts: 1,
      reason: expect.stringMatching(/HTTP 404/),
    });
    const url = files.serve("/busy", { body, status: 503 });
    expect(await download(options(url, { attempts: 2 }))).toMatchObject({ ok: false, transient: true, attempts: 2 });
    expect(files.requests.filter((r) => r.path === "/busy")).toHaveLength(2);
  });

  it("follows redirects but does not carry the offered headers to another origin", async () => {
    const other = await PackageFileServer.start();
    try {
      const target = other.serve("/real", { body });
      const url = files.serve("/pkg", { body, redirectTo: target });
      const result = await download(options(url, { headers: { authorization: "secret" } }));
      expect(result.ok).toBe(true);
      expect(files.requests[0]?.headers["authorization"]).toBe("secret");
      expect(other.requests[0]?.headers["authorization"]).toBeUndefined();
    } finally {
      await other.close();
    }
  });

  it("gives up after too many redirects", async () => {
    const url = files.serve("/loop", { body, redirectTo: "/loop" });
    expect(await download(options(url))).toMatchObject({
      ok: false,
      transient: false,
      reason: expect.stringMatching(/too many redirects/),
    });
  });

  it("abandons an attempt that stalls, and the overall deadline ends the download", async () => {
    const url = files.serve("/slow", { body, throttleBytesPerSecond: 16 * 1024 });
    const result = await download(options(url, { idleTimeoutMs: 5_000, timeoutMs: 600 }));
    expect(result).toMatchObject({
      ok: false,
      transient: true,
      reason: expect.stringMatching(/did not finish within 600 ms/),
    });
  });

  it("throws when the supervisor shuts down", async () => {
    const url = files.serve("/slow", { body, throttleBytesPerSecond: 16 * 1024 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("stop")), 200);
    await expect(download(options(url, { signal: controller.signal }))).rejects.toMatchObject({ code: "ABORTED" });
  });
});

describe("download over https", () => {
  it("trusts the CA it is given (the OpAMP connection's) and refuses an unknown certificate without retrying", async () => {
    const { cert, key: keyPem } = selfSigned("127.0.0.1");
    const server = createHttpsServer({ cert, key: keyPem }, (_req, res) => res.end(body));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/pkg`;
    try {
      expect(await download(options(url, { tlsFor: async () => ({ ca: cert }) }))).toMatchObject({
        ok: true,
        size: body.length,
      });
      const untrusted = await download(options(url));
      expect(untrusted).toMatchObject({
        ok: false,
        transient: false,
        attempts: 1,
        reason: expect.stringMatching(/^TLS: .*SELF_SIGNED/),
      });
    } finally {
      server.close();
    }
  });
});
