/**
 * Limits that keep one user from hurting others: the per-socket frame
 * budget (checked before parsing), the cool-down after a socket is closed
 * for flooding, the cap on sockets and device rows per user, and the
 * group-creation rate.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { DEFAULT_QUOTAS, intVar } from "../../src/config";
import { DEFAULT_LIMITS, type ErrorFrame, type GroupCreatedFrame } from "../../src/protocol";
import { noteCooldown, refuseIfCoolingDown } from "../../src/gateway/cooldowns";
import { connect, connectReady, freshName, gateway, inStore, register, type Account } from "./helpers";

const FRAME_BURST = intVar(env.FRAME_BURST, DEFAULT_LIMITS.frameBurst);
const MAX_SOCKETS = intVar(env.MAX_SOCKETS_PER_USER, DEFAULT_QUOTAS.maxSockets);
const MAX_DEVICES = intVar(env.MAX_DEVICES_PER_USER, DEFAULT_QUOTAS.maxDevices);
const GROUP_CREATES = intVar(env.GROUP_CREATE_PER_MIN, DEFAULT_QUOTAS.groupCreatesPerMin);
/**
 * Frames sent past the burst: far more than the budget refills while the
 * object works through them (FRAME_RATE_PER_SEC is 50), however slow the machine.
 */
const OVERFLOW = 200;

function upgrade(account: Account, device: string): Promise<Response> {
  return gateway(`/api/ws?token=${account.token}&device=${device}`, { headers: { Upgrade: "websocket" } });
}

describe("the per-socket frame budget", () => {
  it("closes a socket that sends past its burst with 1008 and a reason, after answering the frames within it", async () => {
    const alice = await register("alice");
    const a = await connectReady(alice);
    // Junk frames: within the budget each gets its typed error; past it, the socket goes.
    for (let i = 0; i < FRAME_BURST + OVERFLOW; i++) a.sendRaw(`{"type":"nonsense","ref":"j${i}"}`);
    expect(await a.closedBy()).toEqual({ code: 1008, reason: expect.stringContaining("frame budget exceeded") });
    const answered = a.buffered().filter((f): f is ErrorFrame => f.type === "error");
    expect(answered.length).toBeGreaterThanOrEqual(FRAME_BURST);
    expect(answered.length).toBeLessThan(FRAME_BURST + OVERFLOW);
    expect(answered.every((f) => f.code === "unknown_type")).toBe(true);
  });

  it("closes only the flooding socket: the user's other sockets keep working", async () => {
    const alice = await register("alice");
    const [phone, laptop] = await Promise.all([connectReady(alice, { device: "phone" }), connectReady(alice, { device: "laptop" })]);
    for (let i = 0; i < FRAME_BURST + OVERFLOW; i++) phone.sendRaw("{}");
    await phone.closedBy();
    await laptop.barrier();
  });

  it("refuses the flooding user's new sockets for the cool-down with 429 flood_cooldown and Retry-After", async () => {
    const alice = await register("alice");
    const a = await connectReady(alice);
    for (let i = 0; i < FRAME_BURST + OVERFLOW; i++) a.sendRaw("{}");
    await a.closedBy();
    const res = await upgrade(alice, "again");
    expect(res.status).toBe(429);
    expect(Number(res.headers.get("Retry-After"))).toBeGreaterThan(0);
    expect(await res.json()).toMatchObject({ error: { code: "flood_cooldown" } });
  });

  it("does not touch other users while one floods", async () => {
    const [alice, bob] = await Promise.all([register("alice"), register("bob")]);
    const [a, b] = await Promise.all([connectReady(alice), connectReady(bob)]);
    for (let i = 0; i < FRAME_BURST + OVERFLOW; i++) a.sendRaw("{}");
    await a.closedBy();
    b.send({ type: "msg.send", ref: "m", clientId: "m", to: alice.user, text: "still here?" });
    expect(await b.nextOf("msg.sent", "m")).toMatchObject({ clientId: "m" });
    expect((await upgrade(bob, "second")).status).toBe(101);
  });
});

describe("sockets and devices per user", () => {
  it("refuses one socket past MAX_SOCKETS_PER_USER with 429 too_many_sockets, and takes one again after a close", async () => {
    const alice = await register("alice");
    const open = await Promise.all(Array.from({ length: MAX_SOCKETS }, (_, i) => connectReady(alice, { device: `d${i}` })));
    const refused = await upgrade(alice, "one-more");
    expect(refused.status).toBe(429);
    expect(await refused.json()).toMatchObject({ error: { code: "too_many_sockets" } });
    open[0]!.close();
    await open[0]!.closedBy();
    // The close reaches the object a moment after the client sees it.
    let status = 0;
    for (let attempt = 0; attempt < 50 && status !== 101; attempt++) {
      const res = await upgrade(alice, "one-more");
      status = res.status;
      if (status === 101) res.webSocket!.accept();
      else await scheduler.wait(10);
    }
    expect(status).toBe(101);
  });

  it("keeps at most MAX_DEVICES_PER_USER device rows, forgetting the least recently seen", async () => {
    const alice = await register("alice");
    for (let i = 0; i < MAX_DEVICES + 3; i++) {
      const device = await connect(alice, { device: `dev${i}` });
      device.close();
    }
    const kept = await inStore(alice.user, (_store, state) => state.storage.sql.exec<{ device: string }>("SELECT device FROM devices").toArray().map((r) => r.device));
    expect(kept).toHaveLength(MAX_DEVICES);
    expect(kept).not.toContain("dev0");
    expect(kept).toContain(`dev${MAX_DEVICES + 2}`);
  });
});

describe("the group-creation rate", () => {
  it("refuses group.create past GROUP_CREATE_PER_MIN with rate_limited, yet answers a resend of a created group", async () => {
    const alice = await register("alice");
    const a = await connectReady(alice);
    for (let i = 0; i < GROUP_CREATES; i++) {
      a.send({ type: "group.create", ref: `c${i}`, clientId: `c${i}`, name: `Group ${i}` });
      expect(await a.nextOf("group.created", `c${i}`)).toMatchObject({ duplicate: false });
    }
    a.send({ type: "group.create", ref: "over", clientId: "over", name: "One too many" });
    const refusal = await a.nextOf("error", "over");
    expect(refusal).toMatchObject({ code: "rate_limited" });
    expect(refusal.retryAfterMs).toBeGreaterThan(0);
    a.send({ type: "group.create", ref: "again", clientId: "c0", name: "Group 0" });
    const resent: GroupCreatedFrame = await a.nextOf("group.created", "again");
    expect(resent).toMatchObject({ duplicate: true, info: { name: "Group 0" } });
  });
});

describe("the gateway's memory of cool-downs", () => {
  it("answers a cooling-down user's upgrades itself until the object's Retry-After has passed", () => {
    const user = freshName("flooder");
    const now = 1_000_000;
    expect(() => refuseIfCoolingDown(user, now)).not.toThrow();
    noteCooldown(user, new Response(null, { status: 429, headers: { "Retry-After": "10" } }), now);
    expect(() => refuseIfCoolingDown(user, now + 9_999)).toThrow(expect.objectContaining({ code: "flood_cooldown", retryAfterMs: 1 }));
    expect(() => refuseIfCoolingDown(user, now + 10_000)).not.toThrow();
  });

  it("remembers nothing from an answer that is not a cool-down", () => {
    const user = freshName("busy");
    noteCooldown(user, new Response(null, { status: 429 }));
    noteCooldown(user, new Response(null, { status: 200, headers: { "Retry-After": "10" } }));
    expect(() => refuseIfCoolingDown(user)).not.toThrow();
  });
});
