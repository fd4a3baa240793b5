/**
 * What a scenario drives: edgechat (the worker under Miniflare) or the floor
 * (the bare relay). Both speak the same frames, so one scenario runs against
 * each in turn and every figure gets a ratio.
 */
import { createHmac } from "node:crypto";
import type { CostCounters } from "../src/objects/lib/metrics";
import { BenchClient, mapLimit, type ClientOptions } from "./client";
import { startFloor } from "./floor";
import { openFiles, residentBytes, startServer } from "./server";

export type TargetKind = "edgechat" | "floor";
export type Costs = Omit<CostCounters, "shed"> & {
  shed?: number;
  /** Per SQL statement, only with `--profile`. */
  sql?: Record<string, { calls: number; rowsRead: number; rowsWritten: number }>;
};

export interface Account {
  user: string;
  token: string;
}

export interface Target {
  kind: TargetKind;
  /** Creates accounts; `register: false` mints a token instead (edgechat) for users nobody messages. */
  accounts(users: string[], options?: { register?: boolean }): Promise<Account[]>;
  connect(account: Account, options?: ClientOptions & { device?: string }): Promise<BenchClient>;
  /** The server process's resident memory, in bytes. */
  memory(): number | undefined;
  /** The server process's open file descriptors. */
  openFiles(): number | undefined;
  /** Cost counters since the last reset; undefined for the floor. */
  costs(): Promise<Costs | undefined>;
  resetCosts(): Promise<void>;
  stop(): Promise<void>;
}

export const PASSWORD = "bench-password-1";

const running = new Set<Target>();

export async function startTarget(kind: TargetKind, options: { vars?: Record<string, string> } = {}): Promise<Target> {
  const target = kind === "floor" ? await floorTarget() : await edgechatTarget(options.vars);
  running.add(target);
  const stop = target.stop;
  target.stop = async () => {
    running.delete(target);
    await stop();
  };
  return target;
}

/** Stops every target still running (on an interrupt or the watchdog). */
export async function stopAllTargets(): Promise<void> {
  await Promise.allSettled([...running].map((t) => t.stop()));
}

async function edgechatTarget(vars?: Record<string, string>): Promise<Target> {
  const server = await startServer({ vars });
  const wsBase = server.url.replace(/^http/, "ws");
  return {
    kind: "edgechat",
    async accounts(users, options = {}) {
      if (options.register === false) return users.map((user) => ({ user, token: mintToken(server.tokenSecret, user) }));
      // PBKDF2 (100,000 iterations) per sign-up: a few in parallel keep workerd busy.
      return mapLimit(users, 8, async (user) => {
        const res = await fetch(`${server.url}/api/register`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ username: user, password: PASSWORD }),
        });
        if (res.status !== 201) throw new Error(`register ${user}: ${res.status} ${await res.text()}`);
        return (await res.json()) as Account;
      });
    },
    connect(account, options = {}) {
      const device = options.device ? `&device=${options.device}` : "";
      return BenchClient.connect(`${wsBase}/api/ws?token=${account.token}${device}`, account.user, options);
    },
    memory: () => residentBytes(server.pid),
    openFiles: () => openFiles(server.pid),
    async costs() {
      return (await (await fetch(`${server.url}/api/debug/metrics`)).json()) as Costs;
    },
    async resetCosts() {
      await (await fetch(`${server.url}/api/debug/metrics/reset`, { method: "POST" })).body?.cancel();
    },
    stop: () => server.stop(),
  };
}

async function floorTarget(): Promise<Target> {
  const floor = await startFloor();
  const wsBase = floor.url.replace(/^http/, "ws");
  return {
    kind: "floor",
    accounts: async (users) => users.map((user) => ({ user, token: "" })),
    connect: (account, options = {}) => BenchClient.connect(`${wsBase}/?user=${account.user}`, account.user, options),
    memory: () => residentBytes(floor.pid),
    openFiles: () => openFiles(floor.pid),
    costs: async () => undefined,
    resetCosts: async () => {},
    stop: () => floor.stop(),
  };
}

/**
 * A token as the gateway issues it (HS256 JWT, `sub` = user), signed with the
 * run's secret. Used only for users who never receive a one-to-one message, so
 * their accounts need not exist: it skips 100,000 PBKDF2 rounds per user that
 * would otherwise dominate a 10,000-user setup.
 */
export function mintToken(secret: string, user: string, ttlSeconds = 3600): string {
  const now = Math.floor(Date.now() / 1000);
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const body = `${part({ alg: "HS256", typ: "JWT" })}.${part({ sub: user, iat: now, exp: now + ttlSeconds })}`;
  return `${body}.${createHmac("sha256", secret).update(body).digest("base64url")}`;
}
