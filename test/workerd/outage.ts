/**
 * Ways to make one user's object unreachable for RPC, so tests can watch
 * another object queue, retry and give up.
 *
 * The runtime dispatches RPC only to methods on the class prototype, and the
 * test pool turns an own property set on an instance into an unhandled
 * rejection, so the prototype method is wrapped instead, for one live
 * instance only: other users' objects, and this user's after an eviction, run
 * the real method. The wrapper is removed when the test finishes.
 *
 * Promises are tied to the Durable Object that created them: a held call is
 * created and settled inside the held object (through runInDurableObject),
 * never from the test's own context.
 */
import { runInDurableObject } from "cloudflare:test";
import { onTestFinished } from "vitest";
import type { UserObject } from "../../src/objects/user";
import { userStub } from "./helpers";

type RpcMethod = "receive" | "applyReceipts";
type Method = (this: UserObject, ...args: unknown[]) => Promise<unknown>;

/** Replaces `method` for the user's current instance; undone when the test finishes. */
async function wrapMethod(user: string, method: RpcMethod, replacement: (self: UserObject, original: Method, args: unknown[]) => Promise<unknown>): Promise<() => void> {
  const restore = await runInDurableObject(userStub(user), (target: UserObject) => {
    const proto = Object.getPrototypeOf(target) as Record<RpcMethod, Method>;
    const original = proto[method];
    proto[method] = function (this: UserObject, ...args: unknown[]) {
      return this === target ? replacement(this, original, args) : original.apply(this, args);
    };
    return () => {
      proto[method] = original;
    };
  });
  onTestFinished(restore);
  return restore;
}

/** A broken method: how many calls it refused, and the way to repair it. */
export interface Outage {
  readonly calls: number;
  repair(): void;
}

/**
 * Makes every RPC call of `method` on the user's object fail with
 * "overloaded" until repaired (or the test finishes).
 */
export async function breakMethod(user: string, method: RpcMethod): Promise<Outage> {
  let calls = 0;
  const repair = await wrapMethod(user, method, async () => {
    calls++;
    // workerd reports a promise that is already rejected when the test pool
    // chains it as unhandled (cloudflare/workers-sdk#14736): fail a tick later.
    await scheduler.wait(0);
    throw new Error("overloaded");
  });
  return {
    get calls() {
      return calls;
    },
    repair,
  };
}

/** One call the test holds: it decides whether the call fails or goes through. */
export interface HeldCall {
  args: unknown[];
  /** The call fails, as if the object were overloaded. */
  fail(message?: string): Promise<void>;
  /** The real method runs and its answer goes back. */
  pass(): Promise<void>;
  /** The real method runs (its writes happen) but the caller sees an error: a lost reply. */
  passThenFail(): Promise<void>;
}

export interface HeldCalls {
  /** The next call to arrive (already arrived or still to come). */
  next(timeoutMs?: number): Promise<HeldCall>;
  /** How many calls arrived so far. */
  readonly count: number;
}

type Decision = "fail" | "pass" | "passThenFail";

/**
 * Holds every call of `method` on the user's current instance until the test
 * decides. Any call still held when the test finishes fails.
 */
export async function holdCalls(user: string, method: RpcMethod): Promise<HeldCalls> {
  const arrived: { id: number; args: unknown[] }[] = [];
  const pending = new Map<number, (decision: Decision, message: string) => void>();
  let count = 0;

  const target = await runInDurableObject(userStub(user), (instance: UserObject) => instance);
  await wrapMethod(user, method, async (self, original, args) => {
    const id = ++count;
    const { decision, message } = await new Promise<{ decision: Decision; message: string }>((resolve) => {
      pending.set(id, (decision, message) => resolve({ decision, message }));
      arrived.push({ id, args });
    });
    if (decision === "fail") throw new Error(message);
    const result = await original.apply(self, args);
    if (decision === "passThenFail") throw new Error("connection lost");
    return result;
  });

  const settle = (id: number, decision: Decision, message = "overloaded") =>
    runInDurableObject(userStub(user), (current: UserObject) => {
      const decide = pending.get(id);
      pending.delete(id);
      // A held call of an instance that has since been replaced died with it.
      if (current === target) decide?.(decision, message);
    });
  onTestFinished(async () => {
    for (const id of [...pending.keys()]) await settle(id, "fail", "test finished with the call held");
  });

  return {
    get count() {
      return count;
    },
    async next(timeoutMs = 3_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const call = arrived.shift();
        if (call) {
          return {
            args: call.args,
            fail: (message) => settle(call.id, "fail", message),
            pass: () => settle(call.id, "pass"),
            passThenFail: () => settle(call.id, "passThenFail"),
          };
        }
        if (Date.now() > deadline) throw new Error(`no ${method} call within ${timeoutMs} ms`);
        await scheduler.wait(1);
      }
    },
  };
}
