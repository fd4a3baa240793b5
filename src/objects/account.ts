import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import { hashPassword, verifyPassword, type PasswordHash } from "./lib/password";

interface AccountRecord extends PasswordHash {
  createdAt: number;
}

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

  /** True when the account exists and the password matches. */
  async login(password: string): Promise<boolean> {
    const record = this.#record();
    if (!record) {
      decoy ??= hashPassword("decoy-password");
      await verifyPassword(password, await decoy);
      return false;
    }
    return verifyPassword(password, record);
  }

  exists(): boolean {
    return this.#record() !== undefined;
  }

  #record(): AccountRecord | undefined {
    return this.ctx.storage.kv.get<AccountRecord>("account");
  }
}
