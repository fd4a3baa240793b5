/**
 * Helpers for the browser tests: headless Chromium driven by playwright-core,
 * one browser per test file, one context (a separate profile: storage,
 * cookies, network) per person.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from "playwright-core";

export const SCREENSHOTS = join(process.cwd(), "test-results", "screenshots");
export const PASSWORD = "correct horse battery";
/** How long a UI state may take to appear. */
export const UI_TIMEOUT_MS = 10_000;

const DEBIAN_CHROMIUM = "/usr/bin/chromium";

/**
 * Which Chromium: `CHROMIUM_PATH` when set, else Debian's when installed,
 * else the headless build inside the @sparticuz/chromium devDependency
 * (unpacked into the temp dir on first use), so `npm install` is all a fresh
 * machine needs.
 */
export async function chromiumPath(): Promise<string> {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  if (existsSync(DEBIAN_CHROMIUM)) return DEBIAN_CHROMIUM;
  const packaged = (await import("@sparticuz/chromium")).default;
  return packaged.executablePath();
}

export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: await chromiumPath(),
    headless: true,
    // Our own flags, not the package's serverless set (which turns web security off, and the
    // tests check the app's Content-Security-Policy). Without the background-networking ones
    // Chromium keeps trying hosts this machine cannot reach. Playwright gives every launch a
    // fresh temporary profile (user-data-dir).
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-quic",
      "--no-first-run",
    ],
  });
}

export interface Person {
  user: string;
  context: BrowserContext;
  page: Page;
  /** Dialogs (alert, confirm...) the page opened: none is expected, ever. */
  dialogs: string[];
  /** Errors thrown in the page or reported on its console. */
  errors: string[];
}

/** A username nobody else uses. */
export function freshName(prefix: string): string {
  return `${prefix}_${Math.random().toString(36).slice(2, 10)}`;
}

/**
 * A browser context (its own storage and network) whose every action and
 * wait gives up after UI_TIMEOUT_MS, so a stuck step fails naming its
 * locator rather than as the test's own timeout.
 */
export async function newContext(browser: Browser, viewport = { width: 1200, height: 800 }): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport });
  context.setDefaultTimeout(UI_TIMEOUT_MS);
  return context;
}

/** A new context with the app open and signed up. */
export async function signUp(browser: Browser, url: string, prefix: string, viewport = { width: 1200, height: 800 }): Promise<Person> {
  const context = await newContext(browser, viewport);
  const page = await context.newPage();
  const person: Person = { user: freshName(prefix), context, page, dialogs: [], errors: [] };
  page.on("dialog", (dialog) => {
    person.dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  page.on("pageerror", (err) => person.errors.push(err.message));
  page.on("console", (msg) => {
    if (msg.type() === "error") person.errors.push(msg.text());
  });
  await page.goto(url);
  await page.getByLabel("Username").fill(person.user);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await shown(page.getByRole("heading", { name: person.user }));
  await connected(person);
  return person;
}

/** The app says nothing about connecting: the socket is open. */
export async function connected(person: Person): Promise<void> {
  await gone(person.page.getByText("Connecting…"));
}

/** Opens (or starts) the one-to-one chat with `peer` through "New chat". */
export async function openChat(person: Person, peer: string): Promise<void> {
  const { page } = person;
  const existing = page.locator(`.chat-item[data-chat="${peer}"]`);
  if ((await existing.count()) > 0) return existing.click();
  await page.getByRole("button", { name: "New chat" }).click();
  const dialog = page.getByRole("dialog", { name: "New chat" });
  await dialog.getByLabel("Username").fill(peer);
  await dialog.getByRole("button", { name: "Start chat" }).click();
  await shown(page.getByRole("heading", { name: peer, exact: true }));
}

/** Types a message and sends it with Enter. */
export async function send(person: Person, text: string): Promise<void> {
  const box = person.page.getByRole("textbox", { name: "Message" });
  await box.fill(text);
  await box.press("Enter");
}

/** The bubbles in the open conversation whose text is exactly `text`. */
export function bubbles(page: Page, text: string) {
  return page.locator(".msg").filter({ has: page.locator(".text").getByText(text, { exact: true }) });
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
}

/** Waits until (the first element of) `locator` is visible. */
export function shown(locator: Locator, timeout = UI_TIMEOUT_MS): Promise<void> {
  return locator.first().waitFor({ state: "visible", timeout });
}

/** Waits until nothing matches `locator`. */
export function gone(locator: Locator, timeout = UI_TIMEOUT_MS): Promise<void> {
  return locator.first().waitFor({ state: "detached", timeout });
}
