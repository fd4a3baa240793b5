import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { EdgechatClient, type Session, type WebSocketConstructor } from "../../src/client";
import { startProxy } from "./client-proxy";
import { untilClients } from "./client-wait";
import { removeDir, startWorker, type RunningWorker } from "./harness";

// The SDK's groups, presence, typing and settings against the running worker.

let worker: RunningWorker;
const clients: EdgechatClient[] = [];

beforeAll(async () => {
  worker = await startWorker();
});
afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});
afterAll(async () => {
  await worker?.stop();
  if (worker) removeDir(worker.persistDir);
});

const PASSWORD = "correct horse battery";

async function signUp(prefix: string): Promise<Session> {
  return EdgechatClient.register(worker.url, `${prefix}_${Math.random().toString(36).slice(2, 10)}`, PASSWORD);
}

function open(session: Session): EdgechatClient {
  const client = new EdgechatClient({ url: worker.url, token: session.token, reconnect: { baseMs: 50, maxMs: 500 } });
  clients.push(client);
  return client;
}

async function online(...sessions: Session[]): Promise<EdgechatClient[]> {
  const opened = sessions.map(open);
  await untilClients("every client synced", opened, () => opened.every((c) => c.status === "open" && c.rev !== undefined));
  return opened;
}

function texts(client: EdgechatClient, group: string): string[] {
  return (client.groupChat(group)?.messages ?? []).filter((m) => !m.event).map((m) => m.text);
}

describe("group chats through the SDK", () => {
  it("creates a group, delivers its messages to every member once and shows group ticks", async () => {
    const [a, b, c] = await Promise.all([signUp("alice"), signUp("bob"), signUp("carol")]);
    const [alice, bob, carol] = await online(a, b, c);
    const info = await alice!.createGroup("trip", [b.user, c.user]);
    expect(info.members.map((m) => [m.user, m.role])).toEqual(expect.arrayContaining([[a.user, "admin"], [b.user, "member"], [c.user, "member"]]));
    await untilClients("everyone has the group", [bob!, carol!], () => bob!.groupChat(info.group)?.name === "trip" && carol!.groupChat(info.group)?.name === "trip");

    const sent = await alice!.sendToGroup(info.group, "who brings the tent?");
    expect(sent).toMatchObject({ mine: true, group: info.group, status: "sent" });
    await untilClients("both members have it", [bob!, carol!], () => texts(bob!, info.group).length === 1 && texts(carol!, info.group).length === 1);
    expect(bob!.groupUnread(info.group)).toBe(1);
    await untilClients("alice sees it delivered to all", [alice!], () => sent.status === "delivered");

    bob!.markGroupRead(info.group);
    expect(bob!.groupUnread(info.group)).toBe(0);
    const partly = await alice!.messageInfo(info.group, sent.seq!);
    expect(partly.members.find((m) => m.user === b.user)).toMatchObject({ delivered: true });
    carol!.markGroupRead(info.group);
    await untilClients("alice sees it read by all", [alice!], () => sent.status === "read");
    const full = await alice!.messageInfo(info.group, sent.seq!);
    expect(full.members.map((m) => m.read)).toEqual([true, true]);
    expect(texts(bob!, info.group)).toEqual(["who brings the tent?"]);
  });

  it("lets an admin add and remove members, and a member catch up from the group's log after reconnecting", async () => {
    const [a, b, c] = await Promise.all([signUp("alice"), signUp("bob"), signUp("carol")]);
    const [alice, bob] = await online(a, b);
    const info = await alice!.createGroup("club", [b.user]);
    const refused = await bob!.addMembers(info.group, [c.user]).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: "not_admin" });

    const added = await alice!.addMembers(info.group, [c.user]);
    expect(added.members.map((m) => m.user)).toContain(c.user);
    await alice!.sendToGroup(info.group, "sent while carol was away");
    const [carol] = await online(c);
    await untilClients("carol caught up", [carol!], () => texts(carol!, info.group).includes("sent while carol was away"));
    expect(carol!.groupChat(info.group)?.messages.filter((m) => m.text === "sent while carol was away")).toHaveLength(1);

    const removed = await alice!.removeMember(info.group, b.user);
    expect(removed.members.map((m) => m.user)).not.toContain(b.user);
    await untilClients("bob sees he was removed", [bob!], () => bob!.groupChat(info.group)?.active === false);
  });

  it("pages back through a group's older messages", async () => {
    const [a, b] = await Promise.all([signUp("alice"), signUp("bob")]);
    const [alice] = await online(a);
    const info = await alice!.createGroup("log", [b.user]);
    for (let i = 1; i <= 5; i++) await alice!.sendToGroup(info.group, `m${i}`);
    const [bob] = await online(b);
    await untilClients("bob synced the group", [bob!], () => texts(bob!, info.group).includes("m5"));
    const newest = await bob!.groupHistory(info.group, undefined, 2);
    expect(newest.messages.map((m) => m.text)).toEqual(["m4", "m5"]);
    const older = await bob!.groupHistory(info.group, newest.messages[0]!.seq, 2);
    expect(older.messages.map((m) => m.text)).toEqual(["m2", "m3"]);
    expect(older.more).toBe(true);
  });

  it("makes one group when the answer to createGroup is lost and the request goes again", async () => {
    const [a, b] = await Promise.all([signUp("alice"), signUp("bob")]);
    const proxy = await startProxy(worker.url);
    const creates: Record<string, unknown>[] = [];
    const alice = new EdgechatClient({
      url: proxy.url,
      token: a.token,
      reconnect: { baseMs: 50, maxMs: 500 },
      heartbeat: { intervalMs: 500, timeoutMs: 500 },
      WebSocket: recordingCreates(creates),
    });
    clients.push(alice);
    try {
      const [bob] = await online(b);
      await untilClients("alice synced", [alice], () => alice.status === "open" && alice.rev !== undefined);

      // The create reaches the server, but its answer never comes back: the heartbeat notices, and the client reconnects.
      proxy.silenceExisting();
      const info = await alice.createGroup("trip", [b.user]);

      expect(creates).toHaveLength(2);
      expect(creates[1]).toEqual(creates[0]);
      await untilClients("bob has the group", [bob!], () => bob!.groupChat(info.group) !== undefined);
      await bob!.sync();
      expect(bob!.groups().map((g) => g.group)).toEqual([info.group]);
      expect(alice.groups().map((g) => g.group)).toEqual([info.group]);
      expect((await alice.groupInfo(info.group)).head).toBe(2);
    } finally {
      await proxy.close();
    }
  });
});

/** Node's WebSocket, recording the group.create frames the client sends. */
function recordingCreates(sent: Record<string, unknown>[]): WebSocketConstructor {
  const node: unknown = Reflect.get(globalThis, "WebSocket");
  const Base = node as WebSocketConstructor;
  return class extends Base {
    override send(data: string): void {
      if (data.includes('"group.create"')) sent.push(JSON.parse(data) as Record<string, unknown>);
      super.send(data);
    }
  };
}

describe("presence, typing and settings through the SDK", () => {
  it("shows a peer online, their typing, and hides last seen when they choose nobody", async () => {
    const [a, b] = await Promise.all([signUp("alice"), signUp("bob")]);
    const [alice, bob] = await online(a, b);
    await alice!.send(b.user, "hi");
    await untilClients("bob has it", [bob!], () => (bob!.chat(a.user)?.messages.length ?? 0) === 1);
    expect(bob!.active()).toBe(true);
    expect(bob!.active()).toBe(false); // throttled
    const state = await alice!.subscribePresence(b.user);
    expect(state).toMatchObject({ user: b.user, hidden: false });
    // Bob's activity may reach his presence shard just after Alice subscribed: then it is pushed.
    await untilClients("alice sees bob online", [alice!], () => alice!.presenceOf(b.user)?.online === true);

    bob!.typing({ chat: a.user });
    await untilClients("alice sees bob typing", [alice!], () => alice!.typingIn({ chat: b.user }).includes(b.user));
    bob!.typing({ chat: a.user }, false);
    await untilClients("alice sees bob stop", [alice!], () => alice!.typingIn({ chat: b.user }).length === 0);

    expect(await bob!.getSettings()).toEqual({ lastSeen: "everyone", readReceipts: true });
    expect(await bob!.updateSettings({ lastSeen: "nobody" })).toEqual({ lastSeen: "nobody", readReceipts: true });
    expect(bob!.settings).toEqual({ lastSeen: "nobody", readReceipts: true });
    // The server confirms the setting before its presence shard has heard of it: ask until it has.
    const deadline = Date.now() + 5_000;
    let seen = (await alice!.queryPresence([b.user]))[0];
    while (!seen?.hidden && Date.now() < deadline) seen = (await alice!.queryPresence([b.user]))[0];
    expect(seen).toMatchObject({ online: false, lastSeen: null, hidden: true });
  });

  it("shows typing in a group to the other members", async () => {
    const [a, b] = await Promise.all([signUp("alice"), signUp("bob")]);
    const [alice, bob] = await online(a, b);
    const info = await alice!.createGroup("typing", [b.user]);
    await untilClients("bob has the group", [bob!], () => bob!.groupChat(info.group)?.active === true);
    alice!.typing({ group: info.group });
    await untilClients("bob sees alice typing", [bob!], () => bob!.typingIn({ group: info.group }).includes(a.user));
    await alice!.sendToGroup(info.group, "done typing");
    await untilClients("the message clears the indicator", [bob!], () => bob!.typingIn({ group: info.group }).length === 0);
  });
});
