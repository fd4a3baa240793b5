import { useEffect, useState } from "hono/jsx/dom";
import { EdgechatHttpError, type EdgechatClient, type GroupChatMessage, type Session } from "../src/client";
import { entries, type Target } from "./entries";
import { clearSession, connect, loadSession, revokeSession, saveSession } from "./session";
import { useRedraw, usePresenceHeartbeat } from "./use-client";
import { ChatList } from "./views/chat-list";
import { Conversation } from "./views/conversation";
import { GroupInfoDialog } from "./views/group-info";
import { MessageInfo } from "./views/message-info";
import { NewChat, NewGroup } from "./views/new-chat";
import { SettingsDialog } from "./views/settings";
import { SignIn } from "./views/sign-in";

/** Signed out: the sign-in form. Signed in: the chats. */
export function App() {
  const [session, setSession] = useState<{ session: Session; client: EdgechatClient } | undefined>(() => {
    const stored = loadSession();
    return stored ? { session: stored, client: connect(stored) } : undefined;
  });

  if (!session) {
    return (
      <SignIn
        onSignedIn={(s) => {
          saveSession(s);
          setSession({ session: s, client: connect(s) });
        }}
      />
    );
  }
  const signOutHere = () => {
    session.client.close();
    clearSession();
    setSession(undefined);
  };
  return (
    <Chats
      key={session.session.user}
      client={session.client}
      user={session.session.user}
      expiresAt={session.session.expiresAt}
      onSignOut={() => {
        revokeSession(session.session);
        signOutHere();
      }}
      onExpired={signOutHere}
    />
  );
}

type Dialog = { kind: "new-chat" } | { kind: "new-group" } | { kind: "settings" } | { kind: "group-info" } | { kind: "message-info"; message: GroupChatMessage };

function Chats(props: { client: EdgechatClient; user: string; expiresAt: number; onSignOut(): void; onExpired(): void }) {
  const { client } = props;
  useRedraw(client);
  usePresenceHeartbeat(client);
  const [open, setOpen] = useState<Target | undefined>(undefined);
  const [dialog, setDialog] = useState<Dialog | undefined>(undefined);

  // An expired token would only fail every reconnect: sign out instead. So would a revoked one
  // (signed out or password changed on another device: the server closes this socket with 4001).
  useEffect(() => {
    const timer = setTimeout(props.onExpired, Math.min(Math.max(0, props.expiresAt * 1000 - Date.now()), 2 ** 31 - 1));
    const off = client.on("error", (err) => err instanceof EdgechatHttpError && err.code === "token_revoked" && props.onExpired());
    return () => {
      clearTimeout(timer);
      off();
    };
  }, []);

  useEffect(() => {
    document.title = open ? `${titleOf(client, open)} · edgechat` : "edgechat";
  });

  const openTarget = (target: Target) => {
    setDialog(undefined);
    setOpen(target);
  };
  const closeDialog = () => setDialog(undefined);

  return (
    <div class="app" data-view={open ? "conversation" : "list"}>
      <aside class="sidebar" aria-label="Chats">
        <header class="sidebar-header">
          <div class="me-row">
            <h1 class="me" title={`Signed in as ${props.user}`}>
              {props.user}
            </h1>
            <button type="button" class="small secondary" onClick={() => setDialog({ kind: "settings" })}>
              Settings
            </button>
            <button type="button" class="small secondary" onClick={props.onSignOut}>
              Sign out
            </button>
          </div>
          <nav class="toolbar" aria-label="Start">
            <button type="button" class="small" onClick={() => setDialog({ kind: "new-chat" })}>
              New chat
            </button>
            <button type="button" class="small" onClick={() => setDialog({ kind: "new-group" })}>
              New group
            </button>
          </nav>
        </header>
        {client.status !== "open" && (
          <p class="banner" role="status">
            Connecting…
          </p>
        )}
        <ChatList entries={entries(client)} selected={open} onOpen={openTarget} />
      </aside>
      <main class="conversation">
        {open ? (
          <Conversation
            key={`${open.kind}:${open.id}`}
            client={client}
            target={open}
            onBack={() => setOpen(undefined)}
            onGroupInfo={() => setDialog({ kind: "group-info" })}
            onMessageInfo={(message) => setDialog({ kind: "message-info", message })}
          />
        ) : (
          <p class="placeholder">Pick a chat, or start a new one.</p>
        )}
      </main>
      {dialog?.kind === "new-chat" && <NewChat client={client} onOpen={openTarget} onClose={closeDialog} />}
      {dialog?.kind === "new-group" && <NewGroup client={client} onOpen={openTarget} onClose={closeDialog} />}
      {dialog?.kind === "settings" && <SettingsDialog client={client} onClose={closeDialog} />}
      {dialog?.kind === "group-info" && open?.kind === "group" && <GroupInfoDialog client={client} group={open.id} onClose={closeDialog} />}
      {dialog?.kind === "message-info" && <MessageInfo client={client} message={dialog.message} onClose={closeDialog} />}
    </div>
  );
}

function titleOf(client: EdgechatClient, target: Target): string {
  return target.kind === "group" ? (client.groupChat(target.id)?.name ?? "Group") : target.id;
}
