import { DEFAULT_LIMITS, MAX_HISTORY_PAGE, type Limits } from "./protocol";
import type { Env } from "./env";

/** How an object retries work it hands to another object. */
export interface RetryPolicy {
  maxAttempts: number;
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 10, baseMs: 1_000, maxMs: 600_000 };

/**
 * How soon the alarm looks for work a restart may have cut off (a message
 * stored but not handed over, a read receipt not told). The happy path
 * writes no queue rows; this sweep is what makes that safe.
 */
export const DEFAULT_RECOVERY_MS = 2_000;

/**
 * Whether the Worker runs locally (`wrangler dev` reads ENVIRONMENT from
 * .dev.vars, the tests set it) rather than deployed, where it is unset. The
 * Worker's own configuration, never anything in a request, decides this.
 */
export function isLocalEnvironment(env: Env): boolean {
  return env.ENVIRONMENT === "development" || env.ENVIRONMENT === "test";
}

/** A positive integer from a variable, or the fallback when unset or malformed. */
export function intVar(value: string | undefined, fallback: number): number {
  if (value === undefined || value.trim() === "") return fallback;
  const n = Number(value);
  return Number.isSafeInteger(n) && n > 0 ? n : fallback;
}

export function limitsFrom(env: Env): Limits {
  const sendRatePerSec = intVar(env.SEND_RATE_PER_SEC, DEFAULT_LIMITS.sendRatePerSec);
  const sendBurst = intVar(env.SEND_BURST, DEFAULT_LIMITS.sendBurst);
  return {
    maxTextBytes: intVar(env.MAX_TEXT_BYTES, DEFAULT_LIMITS.maxTextBytes),
    maxFrameBytes: intVar(env.MAX_FRAME_BYTES, DEFAULT_LIMITS.maxFrameBytes),
    historyPageSize: Math.min(MAX_HISTORY_PAGE, intVar(env.HISTORY_PAGE_SIZE, DEFAULT_LIMITS.historyPageSize)),
    syncPageSize: intVar(env.SYNC_PAGE_SIZE, DEFAULT_LIMITS.syncPageSize),
    // Never below twice the send quota: a client sending as fast as it may, each send with a
    // receipt or two, is never closed, and lifting the quota for a load test lifts this too.
    frameRatePerSec: Math.max(intVar(env.FRAME_RATE_PER_SEC, DEFAULT_LIMITS.frameRatePerSec), 2 * sendRatePerSec + 10),
    frameBurst: Math.max(intVar(env.FRAME_BURST, DEFAULT_LIMITS.frameBurst), 2 * sendBurst + 10),
    sendRatePerSec,
    sendBurst,
  };
}

/** What one user may hold and start, beyond the per-frame limits clients are told in `hello`. */
export interface UserQuotas {
  /** Open sockets (devices, tabs) at once; one more is refused at the upgrade. */
  maxSockets: number;
  /** Device rows kept (cursors); past it the least recently seen are forgotten. */
  maxDevices: number;
  /** After a socket was closed for flooding, new sockets are refused this long. */
  floodCooldownMs: number;
  /** `group.create` per user per minute (a resend of a created group is free). */
  groupCreatesPerMin: number;
}

export const DEFAULT_QUOTAS: UserQuotas = { maxSockets: 16, maxDevices: 64, floodCooldownMs: 10_000, groupCreatesPerMin: 10 };

export function userQuotasFrom(env: Env): UserQuotas {
  return {
    maxSockets: intVar(env.MAX_SOCKETS_PER_USER, DEFAULT_QUOTAS.maxSockets),
    maxDevices: intVar(env.MAX_DEVICES_PER_USER, DEFAULT_QUOTAS.maxDevices),
    floodCooldownMs: intVar(env.FLOOD_COOLDOWN_MS, DEFAULT_QUOTAS.floodCooldownMs),
    groupCreatesPerMin: intVar(env.GROUP_CREATE_PER_MIN, DEFAULT_QUOTAS.groupCreatesPerMin),
  };
}

export function retryPolicyFrom(env: Env): RetryPolicy {
  return {
    maxAttempts: intVar(env.DELIVERY_MAX_ATTEMPTS, DEFAULT_RETRY.maxAttempts),
    baseMs: intVar(env.DELIVERY_BACKOFF_BASE_MS, DEFAULT_RETRY.baseMs),
    maxMs: intVar(env.DELIVERY_BACKOFF_MAX_MS, DEFAULT_RETRY.maxMs),
  };
}
