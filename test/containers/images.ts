/**
 * The images of the container suite. No registry is reachable here, so the two public base
 * images of deploy/Dockerfile are replaced by local stand-ins, each cached by a tag that names
 * what went into it (a second run reuses them):
 * - Node: a Debian bookworm minbase rootfs (debootstrap) with this machine's node and npm,
 *   and this machine's CA bundle so npm reaches the registry the way the host does;
 * - collector: FROM scratch with the interop collector (a static CGO_ENABLED=0 build) at
 *   /otelcol-contrib, the layout of the official contrib image.
 * The supervised image is then built from the project's own deploy/Dockerfile with only the
 * base images swapped by build arguments.
 */
import { createHash } from "node:crypto";
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { ROOT } from "../e2e/harness.js";
import { COLLECTOR } from "../interop/peers.js";
import { imageExists, podman, run } from "./podman.js";

export const DOCKERFILE = join(ROOT, "deploy/Dockerfile");
/** The supervised image under test; kept between runs so podman's layer cache makes rebuilds quick. */
export const SUPERVISED_TAG = "localhost/opamp-supervisor:containers-test";

export interface TestImages {
  node: string;
  collector: string;
  supervised: string;
  /** Seconds each step took in this run (0 when cached). */
  seconds: { node: number; collector: number; supervised: number };
}

const CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

/** The Debian mirror apt uses here (first URIs line of the deb822 sources), else the default. */
function debianMirror(): string {
  const dir = "/etc/apt/sources.list.d";
  const files = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith(".sources"))
        .map((f) => join(dir, f))
    : [];
  for (const file of files) {
    for (const line of readFileSync(file, "utf8").split("\n")) {
      const m = /^URIs:\s*(\S+)/.exec(line);
      if (m && !m[1]!.includes("security")) return m[1]!;
    }
  }
  return "http://deb.debian.org/debian";
}

/** The npm that comes with this machine's node (…/lib/node_modules/npm). */
function hostNpmDir(): string {
  const candidate = join(dirname(dirname(process.execPath)), "lib/node_modules/npm");
  if (!existsSync(join(candidate, "bin/npm-cli.js")))
    throw new Error(`no npm next to ${process.execPath} (looked in ${candidate})`);
  return candidate;
}

async function timed(step: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await step();
  return Math.round((performance.now() - t0) / 100) / 10;
}

export async function ensureNodeStandin(log: (m: string) => void): Promise<{ tag: string; seconds: number }> {
  const tag = `localhost/opamp-test-node:${process.versions.node}-bookworm`;
  if (await imageExists(tag)) return { tag, seconds: 0 };
  const seconds = await timed(async () => {
    const work = await mkdtemp(join(tmpdir(), "opamp-node-standin-"));
    const rootfs = join(work, "rootfs");
    try {
      const mirror = debianMirror();
      log(`building ${tag}: debootstrap --variant=minbase bookworm ${mirror}`);
      await run("nice", ["-n", "10", "debootstrap", "--variant=minbase", "bookworm", rootfs, mirror], {
        timeoutMs: 600_000,
      });
      // Downloaded .debs and package lists are not part of an image (apt-get update refetches).
      for (const dir of ["var/cache/apt/archives", "var/lib/apt/lists"]) {
        for (const f of readdirSync(join(rootfs, dir)))
          if (f !== "partial" && f !== "lock") rmSync(join(rootfs, dir, f), { recursive: true, force: true });
      }
      copyFileSync(process.execPath, join(rootfs, "usr/local/bin/node"));
      mkdirSync(join(rootfs, "usr/local/lib/node_modules"), { recursive: true });
      cpSync(hostNpmDir(), join(rootfs, "usr/local/lib/node_modules/npm"), { recursive: true, verbatimSymlinks: true });
      symlinkSync("../lib/node_modules/npm/bin/npm-cli.js", join(rootfs, "usr/local/bin/npm"));
      symlinkSync("../lib/node_modules/npm/bin/npx-cli.js", join(rootfs, "usr/local/bin/npx"));
      const changes = ['CMD ["node"]', "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"];
      if (existsSync(CA_BUNDLE)) {
        mkdirSync(join(rootfs, dirname(CA_BUNDLE)), { recursive: true });
        copyFileSync(CA_BUNDLE, join(rootfs, CA_BUNDLE));
        changes.push(`ENV NODE_EXTRA_CA_CERTS=${CA_BUNDLE}`);
      }
      const tarball = join(work, "rootfs.tar");
      await run("tar", ["-C", rootfs, "-cf", tarball, "."], { timeoutMs: 300_000 });
      await podman(["import", ...changes.flatMap((c) => ["--change", c]), tarball, tag], {
        nice: true,
        timeoutMs: 300_000,
      });
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
  return { tag, seconds };
}

/** FROM scratch + the interop collector at /otelcol-contrib, tagged by the binary's digest. */
export async function ensureCollectorStandin(log: (m: string) => void): Promise<{ tag: string; seconds: number }> {
  const digest = createHash("sha256").update(readFileSync(COLLECTOR)).digest("hex").slice(0, 12);
  const tag = `localhost/opamp-test-otelcol:${digest}`;
  if (await imageExists(tag)) return { tag, seconds: 0 };
  const seconds = await timed(async () => {
    const work = await mkdtemp(join(tmpdir(), "opamp-otelcol-standin-"));
    try {
      log(`building ${tag} from ${COLLECTOR}`);
      copyFileSync(COLLECTOR, join(work, "otelcol-contrib"));
      await writeFile(
        join(work, "Containerfile"),
        'FROM scratch\nCOPY otelcol-contrib /otelcol-contrib\nENTRYPOINT ["/otelcol-contrib"]\nCMD ["--config", "/etc/otelcol-contrib/config.yaml"]\n',
      );
      await podman(["build", "--pull=never", "-f", join(work, "Containerfile"), "-t", tag, work], {
        nice: true,
        timeoutMs: 300_000,
      });
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
  return { tag, seconds };
}

/**
 * deploy/Dockerfile with the stand-ins as NODE_IMAGE and COLLECTOR_IMAGE. --network=host for
 * the RUN steps (apt-get, npm ci); --format docker keeps the HEALTHCHECK.
 */
export async function buildSupervised(node: string, collector: string, log: (m: string) => void): Promise<number> {
  log(`building ${SUPERVISED_TAG} from deploy/Dockerfile`);
  const previous = await imageId(SUPERVISED_TAG);
  return timed(async () => {
    await podman(
      [
        "build",
        "--pull=never",
        "--network=host",
        "--format",
        "docker",
        "-f",
        DOCKERFILE,
        "--build-arg",
        `NODE_IMAGE=${node}`,
        "--build-arg",
        `COLLECTOR_IMAGE=${collector}`,
        "-t",
        SUPERVISED_TAG,
        ROOT,
      ],
      { nice: true, timeoutMs: 900_000 },
    );
    // The image this tag named before, when the sources changed: ours, and now untagged.
    if (previous && previous !== (await imageId(SUPERVISED_TAG))) await podman(["rmi", previous], { allowFail: true });
  });
}

async function imageId(tag: string): Promise<string | undefined> {
  const out = await podman(["image", "inspect", "--format", "{{.Id}}", tag], { allowFail: true });
  return out.code === 0 ? out.stdout.trim() : undefined;
}

export async function ensureImages(log: (m: string) => void): Promise<TestImages> {
  const node = await ensureNodeStandin(log);
  const collector = await ensureCollectorStandin(log);
  const supervised = await buildSupervised(node.tag, collector.tag, log);
  return {
    node: node.tag,
    collector: collector.tag,
    supervised: SUPERVISED_TAG,
    seconds: { node: node.seconds, collector: collector.seconds, supervised },
  };
}
