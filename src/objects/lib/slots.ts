/**
 * At most `limit` tasks at once across independent callers, first come first
 * served (`runNow` may start one past the limit; it still counts): unlike `forEachLimited`, which bounds one list, this bounds calls
 * that start at different times from different loops (the group's per-member
 * fan-out lanes).
 *
 * @example
 * const calls = new Slots(64);
 * await calls.run(() => stub.groupDelivery(group, delivery));
 */
export class Slots {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(limit: number) {
    this.#free = limit;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    return this.#holdSlotWhile(task);
  }

  /**
   * Starts `task` at once, even past the limit: it still counts, so waiting
   * tasks start only once fewer than `limit` are running.
   */
  runNow<T>(task: () => Promise<T>): Promise<T> {
    this.#free--;
    return this.#holdSlotWhile(task);
  }

  async #holdSlotWhile<T>(task: () => Promise<T>): Promise<T> {
    try {
      return await task();
    } finally {
      // The slot passes straight to the next waiter, if there is a free one.
      const next = this.#free >= 0 ? this.#waiting.shift() : undefined;
      if (next) next();
      else this.#free++;
    }
  }
}
