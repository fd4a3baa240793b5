/**
 * Waiting on SDK clients without sleeping: a condition is re-checked on every
 * event the clients emit, and fails with a description after a timeout.
 */
import type { ClientEvents, EdgechatClient } from "../../src/client";

/** Every event a client emits (a record, so a new event in ClientEvents is a type error here until listed). */
const EVENTS: Record<keyof ClientEvents, true> = {
  message: true,
  sent: true,
  receipt: true,
  failed: true,
  groupMessage: true,
  groupSent: true,
  groupReceipt: true,
  groupFailed: true,
  group: true,
  presence: true,
  typing: true,
  settings: true,
  status: true,
  hello: true,
  synced: true,
  change: true,
  error: true,
};

/** Resolves once `check` holds, re-checked on every event of the clients; fails with `what` after the timeout. */
export function untilClients(what: string, clients: EdgechatClient[], check: () => boolean, timeoutMs = 15_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const offs: (() => void)[] = [];
    const finish = (error?: Error) => {
      clearTimeout(timer);
      offs.forEach((off) => off());
      if (error) reject(error);
      else resolve();
    };
    const test = () => check() && finish();
    const timer = setTimeout(() => finish(new Error(`timed out waiting until ${what}`)), timeoutMs);
    for (const client of clients) for (const event of Object.keys(EVENTS) as (keyof ClientEvents)[]) offs.push(client.on(event, test));
    test();
  });
}
