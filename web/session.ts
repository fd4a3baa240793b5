import { EdgechatClient, type Session } from "../src/client";
import { IdbStorage } from "../src/client/idb-storage";

const SESSION_KEY = "edgechat.session";
const DEVICE_KEY = "edgechat.device";

/** The signed-in session of this tab (sessionStorage: gone when the tab closes); undefined once expired. */
export function loadSession(): Session | undefined {
  try {
    const raw = sessionStorage.getItem(SESSION_KEY);
    if (!raw) return undefined;
    const session = JSON.parse(raw) as Session;
    if (typeof session.token !== "string" || session.expiresAt * 1000 <= Date.now()) return undefined;
    return session;
  } catch {
    return undefined;
  }
}

export function saveSession(session: Session): void {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
}

export function clearSession(): void {
  sessionStorage.removeItem(SESSION_KEY);
}

/**
 * Revokes the session's tokens on the server (every device is signed out).
 * Best effort: offline, or with a token already revoked, this tab signs out
 * locally all the same.
 */
export function revokeSession(session: Session): void {
  EdgechatClient.logout(location.origin, session.token).catch(() => {});
}

/** One device id per browser profile, so the server keeps one cursor for it. */
function deviceId(): string {
  try {
    let id = localStorage.getItem(DEVICE_KEY);
    if (!id) {
      id = `web-${Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(36).padStart(2, "0")).join("")}`;
      localStorage.setItem(DEVICE_KEY, id);
    }
    return id;
  } catch {
    return `web-${Date.now().toString(36)}`;
  }
}

export function signIn(action: "login" | "register", username: string, password: string): Promise<Session> {
  const url = location.origin;
  return action === "login" ? EdgechatClient.login(url, username, password) : EdgechatClient.register(url, username, password);
}

/** The client for a session: the outbox lives in IndexedDB, one database per user. */
export function connect(session: Session): EdgechatClient {
  return new EdgechatClient({
    url: location.origin,
    token: session.token,
    device: deviceId(),
    storage: new IdbStorage(`edgechat-outbox-${session.user}`),
  });
}
