/**
 * The outbox in IndexedDB, so messages typed offline survive a reload.
 * Browsers only: import this file from browser code, not from `./index`.
 *
 * The few IndexedDB types used are declared here (structurally) because the
 * project compiles without the DOM library.
 */
import type { OutboxStorage, PendingMessage } from "./storage";

const STORE = "outbox";

/**
 * @example
 * import { IdbStorage } from "./client/idb-storage";
 * const client = new EdgechatClient({ url, token, storage: new IdbStorage(`edgechat-${user}`) });
 */
export class IdbStorage implements OutboxStorage {
  readonly #name: string;
  readonly #factory: IdbFactory | undefined;
  #db: Promise<IdbDatabase> | undefined;

  /** One database per name: use one per signed-in user. */
  constructor(name = "edgechat", factory?: IdbFactory) {
    this.#name = name;
    this.#factory = factory;
  }

  async load(): Promise<PendingMessage[]> {
    const db = await this.#open();
    return request(db.transaction(STORE, "readonly").objectStore(STORE).getAll()) as Promise<PendingMessage[]>;
  }

  async put(message: PendingMessage): Promise<void> {
    await this.#write((store) => store.put({ ...message }));
  }

  async delete(clientId: string): Promise<void> {
    await this.#write((store) => store.delete(clientId));
  }

  /** Resolves once the transaction committed, not merely once the request succeeded. */
  async #write(change: (store: IdbObjectStore) => void): Promise<void> {
    const db = await this.#open();
    const tx = db.transaction(STORE, "readwrite");
    change(tx.objectStore(STORE));
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = tx.onabort = () => reject(tx.error ?? new Error("IndexedDB transaction failed"));
    });
  }

  #open(): Promise<IdbDatabase> {
    this.#db ??= new Promise((resolve, reject) => {
      const factory = this.#factory ?? (Reflect.get(globalThis, "indexedDB") as IdbFactory | undefined);
      if (!factory) return reject(new Error("IndexedDB is not available here; use MemoryStorage."));
      const open = factory.open(this.#name, 1);
      open.onupgradeneeded = () => {
        if (!open.result.objectStoreNames.contains(STORE)) open.result.createObjectStore(STORE, { keyPath: "clientId" });
      };
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error ?? new Error("Could not open IndexedDB"));
    });
    return this.#db;
  }
}

function request<T>(req: IdbRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error("IndexedDB request failed"));
  });
}

// ---- the slice of the IndexedDB API used above ----------------------------------

export interface IdbFactory {
  open(name: string, version: number): IdbOpenRequest;
}

interface IdbRequest<T> {
  readonly result: T;
  readonly error: unknown;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
}

interface IdbOpenRequest extends IdbRequest<IdbDatabase> {
  onupgradeneeded: (() => void) | null;
}

interface IdbDatabase {
  readonly objectStoreNames: { contains(name: string): boolean };
  createObjectStore(name: string, options: { keyPath: string }): unknown;
  transaction(store: string, mode: "readonly" | "readwrite"): IdbTransaction;
}

interface IdbTransaction {
  readonly error: unknown;
  objectStore(name: string): IdbObjectStore;
  oncomplete: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
}

interface IdbObjectStore {
  getAll(): IdbRequest<unknown[]>;
  put(value: unknown): IdbRequest<unknown>;
  delete(key: string): IdbRequest<unknown>;
}
