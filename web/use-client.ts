import { useEffect, useState } from "hono/jsx/dom";
import type { ClientEvents, EdgechatClient } from "../src/client";

const REDRAW_ON: (keyof ClientEvents)[] = [
  "change",
  "status",
  "hello",
  "synced",
  "presence",
  "typing",
  "settings",
  "group",
  "groupReceipt",
];

/**
 * Re-renders the calling component whenever the client's state changes. The
 * views read the client's model directly; events arriving together (a sync
 * page) make one redraw.
 */
export function useRedraw(client: EdgechatClient): number {
  const [version, setVersion] = useState(0);
  useEffect(() => {
    let queued = false;
    const redraw = () => {
      if (queued) return;
      queued = true;
      // A task, not an animation frame: those do not run in a hidden tab.
      setTimeout(() => {
        queued = false;
        setVersion((v) => v + 1);
      }, 0);
    };
    const offs = REDRAW_ON.map((event) => client.on(event, redraw));
    return () => offs.forEach((off) => off());
  }, [client]);
  return version;
}

/** Tells the server the user is here (online) while the page is visible and they interact. */
export function usePresenceHeartbeat(client: EdgechatClient): void {
  useEffect(() => {
    const active = () => {
      if (document.visibilityState === "visible") client.active();
    };
    const online = () => client.reconnectNow();
    const events = ["keydown", "pointerdown", "pointermove", "wheel", "focus", "visibilitychange"] as const;
    for (const event of events) document.addEventListener(event, active, { passive: true, capture: true });
    window.addEventListener("online", online);
    const onOpen = client.on("status", (status) => status === "open" && active());
    active();
    return () => {
      for (const event of events) document.removeEventListener(event, active, { capture: true });
      window.removeEventListener("online", online);
      onOpen();
    };
  }, [client]);
}
