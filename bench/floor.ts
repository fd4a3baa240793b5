/**
 * The floor: a bare relay over `ws` speaking just enough of our frames for the
 * same scenarios to drive it. No auth, no storage, no retries, no receipts
 * kept: what any chat costs before it does anything worth having. It runs in
 * its own process, as workerd does, so it does not share the generator's
 * event loop. Every figure of ours is also printed as a ratio to it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { WebSocketServer, type WebSocket } from "ws";
import type { ClientFrame, Limits, ServerFrame } from "../src/protocol";

export interface Floor {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** The relay itself: users by name, a counter per stream, groups in a Map. */
/** A literal, not DEFAULT_LIMITS: this file also runs alone (`--serve`), without the TypeScript resolver. */
const FLOOR_LIMITS: Limits = { maxTextBytes: 65536, maxFrameBytes: 262144, historyPageSize: 50, syncPageSize: 200, frameRatePerSec: 100000, frameBurst: 100000, sendRatePerSec: 100000, sendBurst: 100000 };

export function relay(port: number, ready: (port: number) => void): void {
  const sockets = new Map<string, Set<WebSocket>>();
  const seqs = new Map<string, number>();
  const groups = new Map<string, string[]>();
  const next = (key: string) => seqs.set(key, (seqs.get(key) ?? 0) + 1).get(key)!;
  const push = (user: string, frame: ServerFrame) => {
    const json = JSON.stringify(frame);
    for (const ws of sockets.get(user) ?? []) ws.send(json);
  };
  const server: WebSocketServer = new WebSocketServer({ host: "127.0.0.1", port, perMessageDeflate: false }, (): void => ready((server.address() as { port: number }).port));
  server.on("connection", (ws, req) => {
    const me = new URL(req.url ?? "/", "http://x").searchParams.get("user") ?? "anon";
    sockets.set(me, (sockets.get(me) ?? new Set()).add(ws));
    ws.on("close", () => sockets.get(me)?.delete(ws));
    const send = (frame: ServerFrame) => ws.send(JSON.stringify(frame));
    send({ type: "hello", user: me, device: "d", rev: 0, serverTime: Date.now(), limits: FLOOR_LIMITS });
    ws.on("message", (data) => {
      if (data.toString() === "ping") return ws.send("pong");
      const f = JSON.parse(data.toString()) as ClientFrame;
      const now = Date.now();
      if (f.type === "msg.send") {
        const seq = next(`${me}>${f.to}`);
        send({ type: "msg.sent", ref: f.ref, clientId: f.clientId, id: f.clientId, chat: f.to, seq, rev: 0, sentAt: now, duplicate: false });
        push(f.to, { type: "msg", message: { id: f.clientId, chat: me, from: me, to: f.to, seq, clientId: f.clientId, text: f.text, sentAt: now, rev: 0 } });
      } else if (f.type === "receipt.delivered") {
        push(f.chat, { type: "receipt", chat: me, delivered: f.upto, read: 0, readByMe: 0, lastIn: 0, lastOut: f.upto, rev: 0 });
      } else if (f.type === "group.create" || f.type === "group.add") {
        const group = f.type === "group.create" ? `g_floor${groups.size}0000` : f.group;
        groups.set(group, [...(groups.get(group) ?? [me]), ...f.members]);
        const info = { group, name: "floor", createdBy: me, createdAt: now, head: 0, cap: 1024, members: [] };
        send(f.type === "group.create" ? { type: "group.created", ref: f.ref, info, duplicate: false } : { type: "group.info", ref: f.ref, info });
      } else if (f.type === "group.send") {
        const seq = next(f.group);
        send({ type: "group.sent", ref: f.ref, clientId: f.clientId, group: f.group, id: f.clientId, seq, sentAt: now, duplicate: false });
        const message = { id: f.clientId, group: f.group, seq, from: me, clientId: f.clientId, text: f.text, sentAt: now };
        for (const member of groups.get(f.group) ?? []) if (member !== me) push(member, { type: "group.msg", message });
      } else if (f.type === "sync") {
        send({ type: "sync.page", ref: f.ref, messages: [], chats: [], failures: [], groups: [], rev: 0, more: false });
      } else if (f.type === "group.sync") {
        send({ type: "group.page", ref: f.ref, group: f.group, messages: [], more: false, head: 0, delivered: 0, read: 0, readByMe: 0 });
      }
    });
  });
}

/** Starts the relay in a child process on a free loopback port. */
export function startFloor(): Promise<Floor> {
  const child: ChildProcess = spawn(process.execPath, [fileURLToPath(import.meta.url), "--serve"], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("floor relay did not start")), 10_000);
    child.once("error", reject);
    child.stdout!.once("data", (chunk: Buffer) => {
      clearTimeout(timer);
      const port = Number(chunk.toString().trim());
      resolve({
        url: `http://127.0.0.1:${port}`,
        pid: child.pid!,
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            child.once("exit", () => done());
            child.kill("SIGTERM");
          }),
      });
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === "--serve") {
  relay(0, (port) => process.stdout.write(`${port}\n`));
}
