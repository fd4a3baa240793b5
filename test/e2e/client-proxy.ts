import { connect, createServer, type Socket } from "node:net";

/**
 * A TCP relay in front of the worker, so tests can cut and restore the
 * network between a client and the server, and keep one address while the
 * worker restarts on a new port. Plain bytes: nothing of ours is mocked.
 */
export interface NetworkProxy {
  /** http://127.0.0.1:PORT: what clients connect to. */
  url: string;
  /** Where new connections go (the worker's url). */
  setTarget(url: string): void;
  /** Offline: cuts every connection and refuses new ones until set back. */
  setOffline(offline: boolean): void;
  /** The current connections go silent from the server side (a dead path); new ones work. */
  silenceExisting(): void;
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  upstream: Socket;
  silenced: boolean;
}

export async function startProxy(target: string): Promise<NetworkProxy> {
  let { hostname, port } = new URL(target);
  let offline = false;
  const pairs = new Set<Pair>();

  const cut = (pair: Pair) => {
    pair.client.destroy();
    pair.upstream.destroy();
    pairs.delete(pair);
  };

  const server = createServer((client) => {
    if (offline) return void client.destroy();
    const pair: Pair = { client, upstream: connect(Number(port), hostname), silenced: false };
    pairs.add(pair);
    client.on("data", (chunk) => pair.upstream.write(chunk));
    pair.upstream.on("data", (chunk) => pair.silenced || client.write(chunk));
    for (const socket of [client, pair.upstream]) {
      socket.on("error", () => cut(pair));
      socket.on("close", () => cut(pair));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("proxy did not get a TCP port");

  return {
    url: `http://127.0.0.1:${address.port}`,
    setTarget(url) {
      ({ hostname, port } = new URL(url));
    },
    setOffline(value) {
      offline = value;
      if (value) for (const pair of [...pairs]) cut(pair);
    },
    silenceExisting() {
      for (const pair of pairs) pair.silenced = true;
    },
    async close() {
      for (const pair of [...pairs]) cut(pair);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
