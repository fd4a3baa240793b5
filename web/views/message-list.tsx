import { useLayoutEffect, useRef } from "hono/jsx/dom";
import type { GroupChatMessage } from "../../src/client";
import { describeEvent, type AnyMessage } from "../entries";
import { dayLabel, dayOf, timeOf } from "../format";
import { Ticks } from "./ticks";

interface Props {
  messages: AnyMessage[];
  me: string | undefined;
  group: boolean;
  /** Whether older messages may exist (undefined: not known yet). */
  older: boolean | undefined;
  loadingOlder: boolean;
  onLoadOlder(): void;
  onRetry(message: AnyMessage): void;
  onInfo(message: GroupChatMessage): void;
}

function keyOf(m: AnyMessage): string {
  return m.mine ? `c:${m.clientId}` : `i:${m.id ?? m.clientId}`;
}

/**
 * The messages of one conversation with day separators, oldest at the top.
 * It stays scrolled to the bottom while the reader is there, keeps the
 * reader's place when older messages are added above, and asks for them when
 * scrolled to the top.
 */
export function MessageList(props: Props) {
  const scroller = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  /** Set while older messages load: the first message and the height before. */
  const anchor = useRef<{ first: string | undefined; height: number } | null>(null);
  const first = props.messages[0] ? keyOf(props.messages[0]) : undefined;

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    if (anchor.current && anchor.current.first !== first) {
      el.scrollTop += el.scrollHeight - anchor.current.height;
      anchor.current = null;
    } else if (atBottom.current) {
      el.scrollTop = el.scrollHeight;
    }
  });

  const loadOlder = () => {
    if (props.loadingOlder || props.older === false) return;
    const el = scroller.current;
    anchor.current = { first, height: el?.scrollHeight ?? 0 };
    props.onLoadOlder();
  };

  const onScroll = () => {
    const el = scroller.current;
    if (!el) return;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 48;
    if (el.scrollTop < 32 && props.older === true) loadOlder();
  };

  let lastDay = -1;
  const rows = [];
  for (const m of props.messages) {
    const day = dayOf(m.sentAt);
    if (day !== lastDay) {
      lastDay = day;
      rows.push(
        <li key={`d:${day}`} class="day" role="separator">
          <span>{dayLabel(m.sentAt)}</span>
        </li>,
      );
    }
    rows.push(<Row key={keyOf(m)} message={m} {...props} />);
  }

  return (
    <div class="scroller" ref={scroller} onScroll={onScroll} tabindex={0} aria-label="Messages">
      {props.older !== false && props.messages.length > 0 && (
        <button type="button" class="load-older" onClick={loadOlder} disabled={props.loadingOlder}>
          {props.loadingOlder ? "Loading…" : "Load older messages"}
        </button>
      )}
      <ol class="messages" aria-live="polite">
        {rows}
      </ol>
    </div>
  );
}

function Row(props: Props & { message: AnyMessage }) {
  const m = props.message;
  const event = "event" in m ? m.event : undefined;
  if (event) {
    return <li class="event">{describeEvent(event, props.me)}</li>;
  }
  const groupMessage = "group" in m ? m : undefined;
  return (
    <li class={`msg ${m.mine ? "mine" : "theirs"}`} data-tick={m.mine ? m.status : undefined}>
      {props.group && !m.mine && <span class="sender">{m.from}</span>}
      <span class="text">{m.text}</span>
      <span class="meta">
        <time dateTime={new Date(m.sentAt).toISOString()}>{timeOf(m.sentAt)}</time>
        {m.mine && m.status && <Ticks tick={m.status} />}
      </span>
      {m.status === "failed" && (
        <span class="failed">
          <span>Not sent{m.failReason ? ` (${m.failReason.replaceAll("_", " ")})` : ""}.</span>
          <button type="button" class="link" onClick={() => props.onRetry(m)}>
            Retry
          </button>
        </span>
      )}
      {groupMessage?.unreachable && groupMessage.unreachable.length > 0 && (
        <span class="failed">Not delivered to {groupMessage.unreachable.join(", ")}.</span>
      )}
      {groupMessage && m.mine && m.seq !== undefined && m.status !== "failed" && (
        <button type="button" class="link info" onClick={() => props.onInfo(groupMessage)}>
          Info
        </button>
      )}
    </li>
  );
}
