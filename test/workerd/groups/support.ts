/**
 * Helpers for the group tests inside workerd: registered users, fresh group
 * ids, the group object's RPC with its `{ ok }` result unwrapped, a look at
 * the group's and a user's tables, and a user object whose pushes from the
 * group (`groupDelivery`, `groupReceipt`, `groupFailed`) the test controls.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { onTestFinished } from "vitest";
import type { GroupObject, GroupResult } from "../../../src/objects/group";
import type { UserObject } from "../../../src/objects/user";
import { issueToken } from "../../../src/gateway/tokens";
import { waitUntil } from "../helpers";

export const PASSWORD = "password1";

let counter = 0;
/** A username no other test uses; `prefix` sorts it (the heir rule breaks ties by name). */
export function userName(prefix = "u"): string {
  const unique = crypto.randomUUID().replaceAll("-", "").slice(0, 12);
  return `${prefix}_${(counter++).toString(36)}_${unique}`.slice(0, 32);
}

/** One T per prefix, as a tuple of the same length. */
type Each<P extends readonly string[], T> = { -readonly [K in keyof P]: T };

/** Registers one account per prefix, straight on the account objects (no token needed). */
export async function registered<const P extends readonly string[]>(...prefixes: P): Promise<Each<P, string>> {
  const names = prefixes.map((p) => userName(p)) as Each<P, string>;
  await Promise.all(
    names.map(async (user) => {
      if (!(await env.ACCOUNTS.getByName(user).register(PASSWORD))) throw new Error(`could not register ${user}`);
    }),
  );
  return names;
}

/** A registered user and a token for opening sockets through the gateway. */
export interface Account {
  user: string;
  token: string;
}

/**
 * Registers accounts and issues their tokens directly: POST /api/register is
 * throttled per client address, and these tests are not about sign-up.
 */
export async function accounts<const P extends readonly string[]>(...prefixes: P): Promise<Each<P, Account>> {
  const users: string[] = await registered(...prefixes);
  return (await Promise.all(users.map(async (user) => ({ user, token: (await issueToken(env, user, 0)).token })))) as Each<P, Account>;
}

/** A group id like the user object makes: `g_` and 32 hex digits. */
export function newGroupId(): string {
  return `g_${crypto.randomUUID().replaceAll("-", "")}`;
}

export function groupStub(id: string): DurableObjectStub<GroupObject> {
  return env.GROUP.getByName(id);
}

/** The value of a successful group call; fails the test with the code otherwise. */
export function ok<T>(result: GroupResult<T>): T {
  if (!result.ok) throw new Error(`expected ok, got ${result.code}${result.message ? `: ${result.message}` : ""}`);
  return result.value;
}

/** The code of a refused group call; fails the test if it succeeded. */
export function refused(result: GroupResult<unknown>): string {
  if (result.ok) throw new Error(`expected a refusal, got ${JSON.stringify(result.value).slice(0, 200)}`);
  return result.code;
}

/** Creates a group as `admin` with `members`, and waits until every member's object has heard. */
export async function createGroup(admin: string, members: string[], name = "Test group"): Promise<{ id: string; group: DurableObjectStub<GroupObject> }> {
  const id = newGroupId();
  const group = groupStub(id);
  ok(await group.create(admin, id, name, members));
  await settled(id);
  return { id, group };
}

/** Rows of a query run inside the group's object. */
export function groupRows<T extends Record<string, SqlStorageValue>>(id: string, query: string, ...bindings: SqlStorageValue[]): Promise<T[]> {
  return runInDurableObject(groupStub(id), (_instance: GroupObject, state) => state.storage.sql.exec<T>(query, ...bindings).toArray());
}

/** Rows of a query run inside a user's object. */
export function userRows<T extends Record<string, SqlStorageValue>>(user: string, query: string, ...bindings: SqlStorageValue[]): Promise<T[]> {
  return runInDurableObject(env.USER.getByName(user), (_instance: UserObject, state) => state.storage.sql.exec<T>(query, ...bindings).toArray());
}

/** Waits until the group has no fan-out, member retries or receipt retries left to do. */
export async function settled(id: string): Promise<void> {
  await waitUntil(async () => {
    const [row] = await groupRows<{ n: number }>(
      id,
      "SELECT (SELECT COUNT(*) FROM fanout) + (SELECT COUNT(*) FROM member_queue) + (SELECT COUNT(*) FROM receipt_queue) AS n",
    );
    return row?.n === 0;
  }, `group ${id} has no pending work`);
}

type PushMethod = "groupDelivery" | "groupReceipt" | "groupFailed";
type Push = (this: UserObject, ...args: unknown[]) => Promise<unknown>;

/** One call the test holds until it decides. */
export interface HeldCall {
  args: unknown[];
  fail(): Promise<void>;
  pass(): Promise<void>;
}

/** Controls one RPC method of one user's current object instance. */
export interface CallControl {
  /** Calls that arrived so far (held, failed or passed). */
  readonly calls: number;
  /** Every call fails ("down"), is held for the test ("hold"), or runs normally ("up"). */
  set(mode: "down" | "hold" | "up"): void;
  /** The next held call, waiting for one to arrive. */
  nextHeld(timeoutMs?: number): Promise<HeldCall>;
  /** Answers normally from now on, and lets every held call through (taken or not). */
  recover(): Promise<void>;
}

/**
 * Takes over a method the group calls (`groupDelivery` unless told otherwise)
 * on the user's current instance only. The runtime
 * dispatches RPC to prototype methods, so the prototype method is wrapped and
 * other instances (and this one after an eviction) run the real one. A held
 * call's promise is made and settled inside the user's object, never in the
 * test's own context. Restored, and any held call failed, when the test ends.
 */
export async function controlCalls(user: string, method: PushMethod = "groupDelivery"): Promise<CallControl> {
  const stub = env.USER.getByName(user);
  let mode: "down" | "hold" | "up" = "up";
  let calls = 0;
  type Pending = { args: unknown[]; settle: (pass: boolean) => void };
  /** Held calls not yet handed to the test, and all held calls not yet settled. */
  const arrived: Pending[] = [];
  const unsettled = new Set<Pending>();
  const restore = await runInDurableObject(stub, (target: UserObject) => {
    const proto = Object.getPrototypeOf(target) as Record<PushMethod, Push>;
    const original = proto[method];
    proto[method] = async function (this: UserObject, ...args: unknown[]) {
      if (this !== target) return original.apply(this, args);
      calls++;
      if (mode === "down") throw new Error("overloaded");
      if (mode === "hold") {
        const pass = await new Promise<boolean>((settle) => {
          const call = { args, settle };
          arrived.push(call);
          unsettled.add(call);
        });
        if (!pass) throw new Error("overloaded");
      }
      return original.apply(this, args);
    };
    return () => {
      proto[method] = original;
    };
  });
  const settle = (call: Pending, pass: boolean) => {
    unsettled.delete(call);
    return runInDurableObject(stub, () => call.settle(pass));
  };
  onTestFinished(async () => {
    restore();
    for (const call of [...unsettled]) await settle(call, false);
  });
  return {
    get calls() {
      return calls;
    },
    set(next) {
      mode = next;
    },
    async nextHeld(timeoutMs = 3_000) {
      let call: Pending | undefined;
      await waitUntil(async () => (call = arrived.shift()) !== undefined, `a held ${method} call to ${user}`, timeoutMs);
      const taken = call!;
      return { args: taken.args, fail: () => settle(taken, false), pass: () => settle(taken, true) };
    },
    async recover() {
      mode = "up";
      arrived.length = 0;
      for (const call of [...unsettled]) await settle(call, true);
    },
  };
}
