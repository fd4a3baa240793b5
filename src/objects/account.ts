import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import { hashPassword, verifyPassword, type PasswordHash } from "./lib/password";

interface AccountRecord extends PasswordHash {
  createdAt: number;
}

/** Failed logins allowed per account within the window before it is locked for the rest of it. */
export const LOGIN_FAILURES_ALLOWED = 5;
export const LOGIN_WINDOW_MS = 60_000;

export type LoginResult = { ok: true } | { ok: false; retryAfterMs?: number };

/** A made-up hash to verify against for unknown usernames, so that a login
 * takes as long whether or not the account exists. */
let decoy: Promise<PasswordHash> | undefined;

/**
 * One object per username: the credentials of one account. Addressing by
 * username makes "is this name taken?" a single-object question with no
 * global index, and serialises guesses against one account.
 *
 * Lookups of names nobody registered write nothing: the one record is
 * stored (synchronous key-value API) only on registration.
 */
export class AccountObject extends DurableObject<Env> {
  /** Times of recent failed logins. In memory: a guard against guessing, not a record. */
  #failures: number[] = [];

  /** Creates the account; false when the name is taken. */
  async register(password: string): Promise<boolean> {
    if (this.#record()) return false;
    const hash = await hashPassword(password);
    // Hashing awaited, so a racing registration may have won meanwhile: check
    // and write again with no await in between.
    if (this.#record()) return false;
    this.ctx.storage.kv.put<AccountRecord>("account", { ...hash, createdAt: Date.now() });
    return true;
  }

  /**
   * Checks the password. After LOGIN_FAILURES_ALLOWED failures within a
   * minute the account refuses attempts (even right ones) until the window
   * passes: password guessing gets five tries a minute per account.
   */
  async login(password: string): Promise<LoginResult> {
    const now = Date.now();
    this.#failures = this.#failures.filter((t) => t > now - LOGIN_WINDOW_MS);
    if (this.#failures.length >= LOGIN_FAILURES_ALLOWED) {
      return { ok: false, retryAfterMs: this.#failures[0]! + LOGIN_WINDOW_MS - now };
    }
    const record = this.#record();
    let ok: boolean;
    if (!record) {
      decoy ??= hashPassword("decoy-password");
      await verifyPassword(password, await decoy);
      ok = false;
    } else {
      ok = await verifyPassword(password, record);
    }
    if (ok) return { ok: true };
    this.#failures.push(now);
    return { ok: false };
  }

  exists(): boolean {
    return this.#record() !== undefined;
  }

  #record(): AccountRecord | undefined {
    return this.ctx.storage.kv.get<AccountRecord>("account");
  }
}
