import { useEffect, useState } from "hono/jsx/dom";
import type { EdgechatClient, GroupChatMessage, TypingTarget } from "../../src/client";
import type { AnyMessage, Target } from "../entries";
import { lastSeenLabel } from "../format";
import { Composer } from "./composer";
import { MessageList } from "./message-list";
import { FormError } from "./form-error";

interface Props {
  client: EdgechatClient;
  target: Target;
  onBack(): void;
  onGroupInfo(): void;
  onMessageInfo(message: GroupChatMessage): void;
}

/** One open conversation: header with presence or typing, the messages, the composer. */
export function Conversation(props: Props) {
  const { client, target } = props;
  const group = target.kind === "group";
  const typingTarget: TypingTarget = group ? { group: target.id } : { chat: target.id };
  const [chatOlder, setChatOlder] = useState<boolean | undefined>(undefined);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const [error, setError] = useState("");
  const [visible, setVisible] = useState(document.visibilityState === "visible");

  useEffect(() => {
    const onVisibility = () => setVisible(document.visibilityState === "visible");
    document.addEventListener("visibilitychange", onVisibility);
    if (group) {
      client.groupInfo(target.id).catch(() => {});
      return () => document.removeEventListener("visibilitychange", onVisibility);
    }
    client.subscribePresence(target.id).catch(() => {});
    // The newest page: the sync may have brought only part of this chat.
    client.history(target.id).then(
      (page) => setChatOlder(page.more),
      () => setChatOlder(false),
    );
    return () => {
      document.removeEventListener("visibilitychange", onVisibility);
      client.unsubscribePresence(target.id);
      client.typing(typingTarget, false);
    };
  }, []);

  const chat = group ? undefined : client.chat(target.id);
  const groupChat = group ? client.groupChat(target.id) : undefined;
  const messages: AnyMessage[] = (group ? groupChat?.messages : chat?.messages) ?? [];
  const unread = group ? client.groupUnread(target.id) : client.unread(target.id);

  // Reading happens while the conversation is on screen.
  useEffect(() => {
    if (!visible || unread === 0) return;
    if (group) client.markGroupRead(target.id);
    else client.markRead(target.id);
  });

  const loadOlder = () => {
    setLoadingOlder(true);
    const done = () => setLoadingOlder(false);
    if (group) {
      const before = messages.find((m) => m.seq !== undefined)?.seq;
      client.groupHistory(target.id, before).then(done, done);
    } else {
      const before = chat?.messages.find((m) => m.rev !== undefined)?.rev;
      client.history(target.id, before).then((page) => {
        setChatOlder(page.more);
        done();
      }, done);
    }
  };

  const send = (text: string) => {
    setError("");
    try {
      const sending = group ? client.sendToGroup(target.id, text) : client.send(target.id, text);
      // A refusal from the server shows on the message itself: failed, with retry.
      sending.catch(() => {});
    } catch (err) {
      // Refused before sending (too long, say): nothing was stored.
      setError(err instanceof Error ? err.message : String(err));
    }
  };

  const retry = (message: AnyMessage) => {
    client.retry(message).catch(() => {});
  };

  const title = group ? (groupChat?.name ?? target.id) : target.id;
  const typers = client.typingIn(typingTarget);
  const inactive = group && groupChat?.active === false;

  return (
    <section class="conversation-view" aria-label={`Conversation with ${title}`}>
      <header class="conversation-header">
        <button type="button" class="icon back" aria-label="Back to chats" onClick={props.onBack}>
          ←
        </button>
        <div class="peer">
          {group ? (
            <button type="button" class="peer-name link" onClick={props.onGroupInfo} aria-label={`Group info: ${title}`}>
              {title}
            </button>
          ) : (
            <h2 class="peer-name">{title}</h2>
          )}
          <p class="peer-status" aria-live="polite">
            {statusLine(client, target, typers, group ? groupChat?.info?.members.map((m) => m.user) : undefined)}
          </p>
        </div>
        {group && (
          <button type="button" class="secondary small" onClick={props.onGroupInfo}>
            Info
          </button>
        )}
      </header>
      <MessageList
        messages={messages}
        me={client.user}
        group={group}
        older={group ? groupChat?.older : chatOlder}
        loadingOlder={loadingOlder}
        onLoadOlder={loadOlder}
        onRetry={retry}
        onInfo={props.onMessageInfo}
      />
      <FormError error={error} />
      <Composer
        disabled={inactive ? "You are no longer a member of this group." : undefined}
        onSend={send}
        onTyping={(composing) => client.typing(typingTarget, composing)}
      />
    </section>
  );
}

function statusLine(client: EdgechatClient, target: Target, typers: string[], members: string[] | undefined): string {
  if (target.kind === "group") {
    if (typers.length === 1) return `${typers[0]} is typing…`;
    if (typers.length > 1) return `${typers.join(", ")} are typing…`;
    return members ? members.map((u) => (u === client.user ? "you" : u)).join(", ") : "";
  }
  if (typers.length > 0) return "typing…";
  const presence = client.presenceOf(target.id);
  if (!presence || presence.hidden) return "";
  if (presence.online) return "online";
  return presence.lastSeen !== null ? lastSeenLabel(presence.lastSeen) : "";
}
