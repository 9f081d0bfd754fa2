import { defineConfig } from "vitest/config";

/**
 * The container suite: deploy/Dockerfile built with podman (stand-in base images, no registry)
 * and the shipped Kubernetes manifests run with `podman kube play` against the opamp-go test
 * server on the host's loopback. The global setup builds the images once; files run one at a
 * time (each plays real pods on a 2-core machine).
 *
 * test/containers/sidecar.needs-driver.ts holds the sidecar-pod scenarios; they need the
 * sidecar collector driver and `opamp-supervisor init-config`, and run only with
 * CONTAINERS_SIDECAR=1 (then in addition to the rest).
 */
const sidecar = process.env["CONTAINERS_SIDECAR"] === "1";

export default defineConfig({
  test: {
    include: ["test/containers/**/*.test.ts", ...(sidecar ? ["test/containers/sidecar.needs-driver.ts"] : [])],
    globalSetup: ["test/containers/global-setup.ts"],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    pool: "forks",
    fileParallelism: false,
  },
});
