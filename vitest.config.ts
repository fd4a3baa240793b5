import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

/**
 * One `vitest run`, three layers:
 * - workerd: logic and objects inside the Workers runtime;
 * - e2e: Node with real WebSockets against the worker started by wrangler;
 * - browser: Playwright driving Chromium against the same (test/browser).
 */
export default defineConfig({
  test: {
    projects: [
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              // vitest's runner imports node:* modules inside the test worker.
              compatibilityFlags: ["nodejs_compat"],
              bindings: {
                ENVIRONMENT: "test",
                TOKEN_SECRET: "edgechat-test-secret-at-least-32-characters-long",
                // Fast retries so alarm tests need no waiting.
                DELIVERY_MAX_ATTEMPTS: "3",
                DELIVERY_BACKOFF_BASE_MS: "1",
                DELIVERY_BACKOFF_MAX_MS: "4",
                // Every test registers from the same (absent) client address.
                LOGIN_RATE_PER_MIN: "100000",
                // Presence shards write reports behind; tests that read the rows wait for it.
                PRESENCE_FLUSH_MS: "5",
              },
            },
          }),
        ],
        test: { name: "workerd", include: ["test/workerd/**/*.test.ts"] },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          environment: "node",
          testTimeout: 30_000,
          hookTimeout: 60_000,
          // Each file starts its own worker; two cores run one at a time.
          fileParallelism: false,
        },
      },
    ],
  },
});
