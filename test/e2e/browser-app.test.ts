import type { Browser } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { EdgechatClient } from "../../src/client";
import { bubbles, connected, freshName, gone, launch, newContext, openChat, PASSWORD, screenshot, send, shown, signUp, type Person } from "../browser/support";
import { removeDir, startWorker, type RunningWorker } from "./harness";

// The web app in Debian's Chromium against the running worker. Small pages
// make scroll-back reachable with a few messages.

let worker: RunningWorker;
let browser: Browser;
const people: Person[] = [];

beforeAll(async () => {
  [worker, browser] = await Promise.all([startWorker({ vars: { HISTORY_PAGE_SIZE: "10", SYNC_PAGE_SIZE: "10" } }), launch()]);
});
afterEach(async () => {
  for (const person of people.splice(0)) {
    // No page ever showed a dialog (an injected alert would) or threw.
    expect(person.dialogs).toEqual([]);
    expect(person.errors).toEqual([]);
    await person.context.close();
  }
});
afterAll(async () => {
  await browser?.close();
  await worker?.stop();
  if (worker) removeDir(worker.persistDir);
});

async function join(prefix: string, viewport?: { width: number; height: number }): Promise<Person> {
  const person = await signUp(browser, worker.url, prefix, viewport);
  people.push(person);
  return person;
}

/** The tick a bubble shows: pending, sent, delivered, read or failed. */
function tick(person: Person, text: string, value: string) {
  return bubbles(person.page, text).and(person.page.locator(`[data-tick="${value}"]`));
}

describe("one-to-one chat in the browser", () => {
  it("shows Alice's ticks going one grey, two grey, two blue as Bob's window receives and reads", async () => {
    const [alice, bob] = await Promise.all([join("alice"), join("bob")]);
    await openChat(alice, bob.user);
    // Bob's network is off: the message can only be stored, not delivered.
    await bob.context.setOffline(true);
    await send(alice, "are you there?");
    await shown(tick(alice, "are you there?", "sent"));
    await screenshot(alice.page, "conversation-sent");

    await bob.context.setOffline(false);
    await shown(tick(alice, "are you there?", "delivered"));
    const item = bob.page.locator(`.chat-item[data-chat="${alice.user}"]`);
    await shown(item.getByLabel("1 unread"));
    await screenshot(bob.page, "chat-list-unread");

    await item.click();
    await shown(tick(alice, "are you there?", "read"));
    await gone(item.getByLabel("1 unread"));
    expect(await bubbles(bob.page, "are you there?").count()).toBe(1);
    await screenshot(alice.page, "conversation-read");
  });

  it("shows the peer online and typing, and delivers what was sent while he was offline once", async () => {
    const [alice, bob] = await Promise.all([join("alice"), join("bob")]);
    await openChat(alice, bob.user);
    await send(alice, "hi bob");
    await openChat(bob, alice.user);
    await shown(alice.page.locator(".peer-status", { hasText: /^online$/ }));

    await bob.page.getByRole("textbox", { name: "Message" }).pressSequentially("hel");
    await shown(alice.page.locator(".peer-status", { hasText: "typing…" }));
    await bob.page.getByRole("textbox", { name: "Message" }).press("Enter");
    await shown(bubbles(alice.page, "hel"));
    await shown(alice.page.locator(".peer-status", { hasText: /^online$/ }));

    await bob.context.setOffline(true);
    await send(alice, "sent while you were away");
    await send(alice, "and another");
    await shown(tick(alice, "and another", "sent"));
    await bob.context.setOffline(false);
    await shown(bubbles(bob.page, "and another"));
    // Bob has the chat open: both are read at once.
    await shown(tick(alice, "and another", "read"));
    await shown(tick(alice, "sent while you were away", "read"));
    expect(await bubbles(bob.page, "sent while you were away").count()).toBe(1);
    expect(await bubbles(bob.page, "and another").count()).toBe(1);
    expect(await bob.page.locator(".msg").count()).toBe(4);
  });

  it("renders an XSS payload as text, in the chat list and in the conversation", async () => {
    const [alice, bob] = await Promise.all([join("alice"), join("bob")]);
    const payloads = ["<img src=x onerror=alert(1)>", "<script>alert(2)</script><b>bold</b>"];
    await openChat(alice, bob.user);
    for (const payload of payloads) await send(alice, payload);
    const item = bob.page.locator(`.chat-item[data-chat="${alice.user}"]`);
    await shown(item.locator(".preview-text", { hasText: payloads[1]! }));
    await item.click();
    for (const payload of payloads) {
      await shown(bubbles(bob.page, payload));
      expect(await bubbles(bob.page, payload).locator(".text").textContent()).toBe(payload);
    }
    for (const page of [alice.page, bob.page]) {
      expect(await page.locator("#app img, #app script, #app b").count()).toBe(0);
    }
    await screenshot(bob.page, "xss-as-text");
  });

  it("marks a message to a user that does not exist as failed, and sends it on retry once they do", async () => {
    const alice = await join("alice");
    const dave = freshName("dave");
    await openChat(alice, dave);
    await send(alice, "hello dave");
    await shown(tick(alice, "hello dave", "failed"));
    await shown(alice.page.locator(".msg .failed", { hasText: "unknown user" }));
    await screenshot(alice.page, "failed-with-retry");

    await EdgechatClient.register(worker.url, dave, PASSWORD);
    await bubbles(alice.page, "hello dave").getByRole("button", { name: "Retry" }).click();
    await shown(tick(alice, "hello dave", "sent"));
    expect(await bubbles(alice.page, "hello dave").count()).toBe(1);
  });

  it("hides last seen and read ticks once the peer turns them off in privacy settings", async () => {
    const [alice, bob] = await Promise.all([join("alice"), join("bob")]);
    await bob.page.getByRole("button", { name: "Settings" }).click();
    const dialog = bob.page.getByRole("dialog", { name: "Privacy settings" });
    await dialog.getByLabel("Who can see my last seen").selectOption("nobody");
    await shown(dialog.getByText("Saved."));
    await dialog.getByLabel("Read receipts").uncheck();
    await shown(dialog.getByText("Saved."));
    await screenshot(bob.page, "privacy-settings");
    await dialog.getByRole("button", { name: "Close" }).click();

    await openChat(alice, bob.user);
    await send(alice, "can you see this?");
    await openChat(bob, alice.user);
    await shown(bubbles(bob.page, "can you see this?"));
    await shown(tick(alice, "can you see this?", "delivered"));
    // Bob reads it with read receipts off: Alice keeps two grey ticks, and no presence line.
    await send(bob, "yes");
    await shown(bubbles(alice.page, "yes"));
    expect(await bubbles(alice.page, "can you see this?").getAttribute("data-tick")).toBe("delivered");
    expect(await alice.page.locator(".peer-status").textContent()).toBe("");
  });
});

describe("history, layout and session", () => {
  it("signs in on a new device and pages back through older messages", async () => {
    const [alice, bob] = await Promise.all([
      EdgechatClient.register(worker.url, freshName("alice"), PASSWORD),
      EdgechatClient.register(worker.url, freshName("bob"), PASSWORD),
    ]);
    const sender = new EdgechatClient({ url: worker.url, token: bob.token });
    try {
      for (let i = 1; i <= 25; i++) await sender.send(alice.user, `old ${i}`);
    } finally {
      sender.close();
    }
    const context = await newContext(browser);
    const page = await context.newPage();
    const person: Person = { user: alice.user, context, page, dialogs: [], errors: [] };
    people.push(person);
    page.on("pageerror", (err) => person.errors.push(err.message));
    await page.goto(worker.url);
    await page.getByLabel("Username").fill(alice.user);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByLabel("Password").press("Enter");
    await connected(person);

    await page.locator(`.chat-item[data-chat="${bob.user}"]`).click();
    await shown(bubbles(page, "old 25"));
    await shown(page.getByRole("button", { name: "Load older messages" }));
    expect(await bubbles(page, "old 1").count()).toBe(0);
    for (let count = await page.locator(".msg").count(); count < 25; count = await page.locator(".msg").count()) {
      await page.getByRole("button", { name: "Load older messages" }).click();
      await shown(page.locator(".msg").nth(count));
    }
    await gone(page.getByRole("button", { name: "Load older messages" }));
    const texts = await page.locator(".msg .text").allTextContents();
    expect(texts).toEqual(Array.from({ length: 25 }, (_, i) => `old ${i + 1}`));
  });

  it("fits a phone-sized screen: the list, then the conversation with a way back", async () => {
    const phone = { width: 390, height: 844 };
    const [alice, bob] = await Promise.all([join("alice", phone), join("bob")]);
    await openChat(bob, alice.user);
    await send(bob, "hi from a big screen");
    const item = alice.page.locator(`.chat-item[data-chat="${bob.user}"]`);
    await shown(item);
    await screenshot(alice.page, "phone-chat-list");
    await item.click();
    await shown(bubbles(alice.page, "hi from a big screen"));
    expect(await alice.page.locator(".sidebar").isVisible()).toBe(false);
    await send(alice, "hi from a phone");
    await shown(tick(alice, "hi from a phone", "read"));
    await screenshot(alice.page, "phone-conversation");
    await alice.page.getByRole("button", { name: "Back to chats" }).click();
    await shown(item);
  });

  it("signs out, closing the socket, and forgets the session", async () => {
    const alice = await join("alice");
    const closed = new Promise<void>((resolve) => alice.page.on("websocket", (ws) => ws.on("close", () => resolve())));
    // The socket opened before the listener: reload so the listener sees this one.
    await alice.page.reload();
    await connected(alice);
    await alice.page.getByRole("button", { name: "Sign out" }).click();
    await closed;
    await shown(alice.page.getByRole("button", { name: "Sign in" }));
    await alice.page.reload();
    await shown(alice.page.getByRole("button", { name: "Sign in" }));
  });

  it("signs out everywhere: another tab of the same user goes back to the sign-in screen", async () => {
    const alice = await join("alice");
    // A second tab: its own session (sessionStorage is per tab), signed in with the same account.
    const tab = await alice.context.newPage();
    await tab.goto(worker.url);
    await tab.getByLabel("Username").fill(alice.user);
    await tab.getByLabel("Password").fill(PASSWORD);
    await tab.getByRole("button", { name: "Sign in" }).click();
    await shown(tab.getByRole("heading", { name: alice.user }));
    await gone(tab.getByText("Connecting…"));

    await alice.page.getByRole("button", { name: "Sign out" }).click();
    // The server closed the other tab's socket (token revoked): it signs out rather than reconnect.
    await shown(tab.getByRole("button", { name: "Sign in" }));
    await tab.close();
  });

  it("serves the app with a strict Content-Security-Policy and no inline script", async () => {
    const response = await fetch(worker.url);
    const csp = response.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self';");
    expect(csp).toContain("require-trusted-types-for 'script'");
    expect(csp).not.toContain("unsafe");
    const html = await response.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/\son\w+=/);
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
  });
});

describe("group chat in the browser", () => {
  it("runs a three-person group with group ticks, message info, and an admin removing a member", async () => {
    const [alice, bob, carol] = await Promise.all([join("alice"), join("bob"), join("carol")]);
    await alice.page.getByRole("button", { name: "New group" }).click();
    const create = alice.page.getByRole("dialog", { name: "New group" });
    await create.getByLabel("Group name").fill("Weekend");
    await create.getByLabel("Members").fill(`${bob.user}, ${carol.user}`);
    await create.getByRole("button", { name: "Create group" }).click();
    await shown(alice.page.getByRole("button", { name: "Group info: Weekend" }));

    await send(alice, "who is in?");
    // Both have it (unread) before either opens the group: two grey ticks, then blue once both read.
    for (const member of [bob, carol]) {
      const item = member.page.locator('.chat-item[data-kind="group"]', { hasText: "Weekend" });
      await shown(item.getByText("Group"));
      await shown(item.getByLabel("1 unread"));
    }
    await shown(tick(alice, "who is in?", "delivered"));
    for (const member of [bob, carol]) {
      await member.page.locator('.chat-item[data-kind="group"]').click();
      await shown(member.page.locator(".event", { hasText: "created the group" }));
      await shown(bubbles(member.page, "who is in?").locator(".sender", { hasText: alice.user }));
    }
    await shown(tick(alice, "who is in?", "read"));
    await send(bob, "me!");
    await shown(bubbles(carol.page, "me!").locator(".sender", { hasText: bob.user }));
    await shown(bubbles(alice.page, "me!"));
    await screenshot(carol.page, "group-conversation");
    await screenshot(alice.page, "group-conversation-sender");

    await bubbles(alice.page, "who is in?").getByRole("button", { name: "Info" }).click();
    const info = alice.page.getByRole("dialog", { name: "Message info" });
    const readBy = info.getByRole("list", { name: "Read by" });
    await shown(readBy.getByText(bob.user));
    await shown(readBy.getByText(carol.user));
    await screenshot(alice.page, "group-message-info");
    await info.getByRole("button", { name: "Close" }).click();

    await alice.page.locator(".conversation-header").getByRole("button", { name: "Info", exact: true }).click();
    const group = alice.page.getByRole("dialog", { name: "Group info: Weekend" });
    const members = group.getByRole("list", { name: "Members" });
    await shown(members.locator(`li[data-user="${alice.user}"]`, { hasText: "Admin" }));
    expect(await members.locator("li").count()).toBe(3);
    await screenshot(alice.page, "group-info");
    await group.getByRole("button", { name: `Remove ${carol.user}` }).click();
    await gone(members.locator(`li[data-user="${carol.user}"]`));
    await group.getByRole("button", { name: "Close" }).click();

    await shown(carol.page.getByText("You are no longer a member of this group."));
    await shown(alice.page.locator(".event", { hasText: `You removed ${carol.user}` }));
    await shown(bob.page.locator(".event", { hasText: `${alice.user} removed ${carol.user}` }));
  });
});
