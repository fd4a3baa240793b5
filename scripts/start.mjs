/**
 * `npm start`: `wrangler dev` on 127.0.0.1:8787 without wrangler's local
 * tracing collector. wrangler 4.16x attaches one to every call by default
 * (X_LOCAL_OBSERVABILITY); measured here it cut group fan-out from 1,949 to
 * 368 deliveries/s, so the product runs without it unless you ask:
 * `X_LOCAL_OBSERVABILITY=true npm start`, or `npm run dev` (wrangler's defaults).
 * A script rather than `VAR=value wrangler dev` so it works in every shell.
 */
import { spawn } from "node:child_process";

const env = { ...process.env, X_LOCAL_OBSERVABILITY: process.env.X_LOCAL_OBSERVABILITY ?? "false" };
const args = ["dev", "--ip", "127.0.0.1", "--port", "8787", ...process.argv.slice(2)];
const child = spawn("wrangler", args, { env, stdio: "inherit", shell: process.platform === "win32" });
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
