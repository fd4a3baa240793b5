// Builds the web app into public/: app.js and styles.css (minified, no source maps).
// `npm run build:web` runs it; wrangler runs that before `wrangler dev`,
// `wrangler deploy` and the tests' unstable_startWorker ([build] in
// wrangler.toml), so the built files are not committed (public/.gitignore).
import { build } from "esbuild";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const root = new URL("..", import.meta.url).pathname;
const result = await build({
  absWorkingDir: root,
  entryPoints: { app: "web/main.tsx", styles: "web/styles.css" },
  outdir: "public",
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2022",
  jsx: "automatic",
  jsxImportSource: "hono/jsx/dom",
  legalComments: "none",
  logLevel: "warning",
  write: false,
});

const sizes = [];
for (const file of result.outputFiles) {
  sizes.push(`${file.path.slice(root.length)} ${file.contents.length} B (${gzipSync(file.contents).length} B gzip)`);
  // Unchanged files are left alone; changed ones are replaced whole (a
  // running server never serves a half-written file).
  if (existsSync(file.path) && readFileSync(file.path).equals(file.contents)) continue;
  writeFileSync(`${file.path}.tmp`, file.contents);
  renameSync(`${file.path}.tmp`, file.path);
}
if (!process.argv.includes("--quiet")) console.log(`web app built: ${sizes.join(", ")}`);
