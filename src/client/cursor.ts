/**
 * The sync cursor: the highest `rev` of the user's log this client holds with
 * nothing missing below it. It moves only
 * - from `sync.page` answers while a sync runs, and
 * - otherwise from live frames, and then only without a gap: frames can reach
 *   a socket out of rev order (the object awaits storage between storing one
 *   message and announcing it), so jumping to the highest rev seen could skip
 *   one for good if the socket dropped in between. Revs above a gap wait in
 *   `#ahead` until the gap fills; a resync from the cursor is always safe,
 *   since the model upserts by id.
 */
export class Cursor {
  #rev: number | undefined;
  #syncing = false;
  readonly #ahead = new Set<number>();

  constructor(rev?: number) {
    this.#rev = rev;
  }

  /** Undefined until the first sync page: the next sync is a new device's. */
  get rev(): number | undefined {
    return this.#rev;
  }

  get syncing(): boolean {
    return this.#syncing;
  }

  /** Live revs held above a gap; many means something was lost and a resync is due. */
  get waiting(): number {
    return this.#ahead.size;
  }

  /** A sync starts; returns its `after`. */
  beginSync(): number | undefined {
    this.#syncing = true;
    return this.#rev;
  }

  /** A `sync.page` arrived: the server's `rev` is the cursor to keep, even if lower (its state was reset). */
  page(rev: number, more: boolean): void {
    this.#rev = rev;
    if (more) return;
    this.#syncing = false;
    this.#drain();
  }

  /** A live frame carrying `rev` was applied. */
  live(rev: number): void {
    if (this.#rev !== undefined && rev <= this.#rev) return;
    this.#ahead.add(rev);
    if (!this.#syncing) this.#drain();
  }

  /** The socket closed: a sync in flight is abandoned, and the next connection syncs from the cursor. */
  disconnected(): void {
    this.#syncing = false;
    this.#ahead.clear();
  }

  #drain(): void {
    if (this.#rev === undefined) return;
    for (const rev of this.#ahead) if (rev <= this.#rev) this.#ahead.delete(rev);
    while (this.#ahead.delete(this.#rev + 1)) this.#rev++;
  }
}
