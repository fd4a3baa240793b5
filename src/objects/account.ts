import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import { hashPassword, verifyPassword, type PasswordHash } from "./lib/password";

interface AccountRecord extends PasswordHash {
  createdAt: number;
  /**
   * Tokens carry the version they were issued at; bumping it revokes every
   * earlier token. Absent on accounts created before revocation existed: those
   * are at version 0, which is also what their tokens (with no `ver`) claim.
   */
  tokenVersion?: number;
}

/** Failed logins allowed per account within the window before it is locked for the rest of it. */
export const LOGIN_FAILURES_ALLOWED = 5;
export const LOGIN_WINDOW_MS = 60_000;

/** `retryAfterMs` is set when the account is locked (too many failures), whatever the password. */
export type LoginResult = { ok: true; tokenVersion: number } | { ok: false; retryAfterMs?: number };

/** `revoked`: the caller's token is no longer current, so it may not change anything. */
export type PasswordChangeResult = { ok: true; tokenVersion: number } | { ok: false; revoked: true } | { ok: false; revoked?: false; retryAfterMs?: number };

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

  /** Creates the account; false when the name is taken. Its tokens start at version 0. */
  async register(password: string): Promise<boolean> {
    if (this.#record()) return false;
    const hash = await hashPassword(password);
    // Hashing awaited, so a racing registration may have won meanwhile: check
    // and write again with no await in between.
    if (this.#record()) return false;
    this.#write({ ...hash, createdAt: Date.now() });
    return true;
  }

  /**
   * Checks the password. After LOGIN_FAILURES_ALLOWED failures within a
   * minute the account refuses attempts (even right ones) until the window
   * passes: password guessing gets five tries a minute per account.
   */
  async login(password: string): Promise<LoginResult> {
    const retryAfterMs = this.#lockedFor(Date.now());
    if (retryAfterMs !== undefined) return { ok: false, retryAfterMs };
    const record = this.#record();
    if (!record) {
      decoy ??= hashPassword("decoy-password");
      await verifyPassword(password, await decoy);
      this.#failed();
      return { ok: false };
    }
    if (!(await this.#matches(password, record))) return { ok: false };
    // Read after the hash: a sign-out meanwhile must not hand out a token it revoked.
    return { ok: true, tokenVersion: versionOf(this.#record()) };
  }

  /**
   * Replaces the password and revokes every earlier token, for the holder of a
   * current token who knows the old password. Wrong old passwords count
   * towards the same lock as failed logins. Answers the new token version.
   */
  async changePassword(password: string, newPassword: string, tokenVersion: number): Promise<PasswordChangeResult> {
    const record = this.#record();
    if (!record || versionOf(record) !== tokenVersion) return { ok: false, revoked: true };
    const retryAfterMs = this.#lockedFor(Date.now());
    if (retryAfterMs !== undefined) return { ok: false, retryAfterMs };
    if (!(await this.#matches(password, record))) return { ok: false };
    const hash = await hashPassword(newPassword);
    // Two hashes awaited: a sign-out or another change may have revoked this
    // token meanwhile. Check and write with no await in between.
    const current = this.#record();
    if (!current || versionOf(current) !== tokenVersion) return { ok: false, revoked: true };
    const next = tokenVersion + 1;
    this.#write({ ...current, ...hash, tokenVersion: next });
    return { ok: true, tokenVersion: next };
  }

  /**
   * Sign out everywhere: revokes every token issued so far, if the caller's
   * token is still current. A revoked token may not revoke again, or a stolen
   * old token could keep signing its owner out. Answers the new version, or
   * undefined when the caller's token was no longer current.
   */
  revokeTokens(tokenVersion: number): number | undefined {
    const record = this.#record();
    if (!record || versionOf(record) !== tokenVersion) return undefined;
    const next = tokenVersion + 1;
    this.#write({ ...record, tokenVersion: next });
    return next;
  }

  /**
   * The version a token must carry to be accepted: a key-value read and no
   * hashing, since the gateway asks on every socket upgrade. Names nobody
   * registered answer 0 and write nothing.
   */
  tokenVersion(): number {
    return versionOf(this.#record());
  }

  exists(): boolean {
    return this.#record() !== undefined;
  }

  /** How long the account stays locked after too many failures, or undefined when it is not. */
  #lockedFor(now: number): number | undefined {
    this.#failures = this.#failures.filter((t) => t > now - LOGIN_WINDOW_MS);
    if (this.#failures.length < LOGIN_FAILURES_ALLOWED) return undefined;
    return this.#failures[0]! + LOGIN_WINDOW_MS - now;
  }

  /**
   * Whether the password is the account's, counting a failure if not. A
   * password change that lands during the hash makes it a failure too (not
   * counted): the old password must not open the account after its change.
   */
  async #matches(password: string, record: AccountRecord): Promise<boolean> {
    const ok = await verifyPassword(password, record);
    if (!ok) this.#failed();
    return ok && this.#record()?.hash === record.hash;
  }

  #failed(): void {
    this.#failures.push(Date.now());
  }

  #record(): AccountRecord | undefined {
    return this.ctx.storage.kv.get<AccountRecord>("account");
  }

  #write(record: AccountRecord): void {
    this.ctx.storage.kv.put<AccountRecord>("account", record);
  }
}

function versionOf(record: AccountRecord | undefined): number {
  return record?.tokenVersion ?? 0;
}
