import { sameTarget, type Entry, type Target } from "../entries";
import { listTime } from "../format";
import { Ticks } from "./ticks";

/** Every conversation: name, last message, time, unread count; groups marked. */
export function ChatList(props: { entries: Entry[]; selected: Target | undefined; onOpen(target: Target): void }) {
  if (props.entries.length === 0) {
    return <p class="empty">No chats yet. Start one with "New chat".</p>;
  }
  return (
    <ul class="chat-list" aria-label="Chats">
      {props.entries.map((entry) => {
        const current = sameTarget(entry.target, props.selected);
        const group = entry.target.kind === "group";
        return (
          <li key={`${entry.target.kind}:${entry.target.id}`}>
            <button
              type="button"
              class={`chat-item${current ? " current" : ""}`}
              aria-current={current ? "true" : undefined}
              data-kind={entry.target.kind}
              data-chat={entry.target.id}
              onClick={() => props.onOpen(entry.target)}
            >
              <span class={`avatar${group ? " group" : ""}`} aria-hidden="true">
                {group ? "#" : entry.title.charAt(0).toUpperCase()}
              </span>
              <span class="chat-main">
                <span class="chat-title">
                  <span class="name">{entry.title}</span>
                  {group && <span class="badge">Group</span>}
                </span>
                <span class="preview">
                  {entry.tick && <Ticks tick={entry.tick} />}
                  <span class="preview-text">{entry.preview}</span>
                </span>
              </span>
              <span class="chat-side">
                {entry.time > 0 && <time class="time">{listTime(entry.time)}</time>}
                {entry.unread > 0 && (
                  <span class="unread" aria-label={`${entry.unread} unread`}>
                    {entry.unread}
                  </span>
                )}
              </span>
            </button>
          </li>
        );
      })}
    </ul>
  );
}
