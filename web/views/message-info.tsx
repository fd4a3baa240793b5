import { useEffect, useState } from "hono/jsx/dom";
import type { EdgechatClient, GroupChatMessage } from "../../src/client";
import type { GroupMsgInfoFrame } from "../../src/protocol";
import { dayLabel, timeOf } from "../format";
import { messageOf, Modal } from "./modal";
import { FormError } from "./form-error";

const when = (ms: number | null) => (ms === null ? "" : `${dayLabel(ms)} ${timeOf(ms)}`);

/** Who has one of my group messages: read, delivered, not yet. */
export function MessageInfo(props: { client: EdgechatClient; message: GroupChatMessage; onClose(): void }) {
  const { client, message } = props;
  const [info, setInfo] = useState<GroupMsgInfoFrame | undefined>(undefined);
  const [error, setError] = useState("");

  useEffect(() => {
    client.messageInfo(message.group, message.seq ?? 0).then(setInfo, (err: unknown) => setError(messageOf(err)));
  }, []);

  const read = info?.members.filter((m) => m.read) ?? [];
  const delivered = info?.members.filter((m) => m.delivered && !m.read) ?? [];
  const waiting = info?.members.filter((m) => !m.delivered) ?? [];

  return (
    <Modal title="Message info" onClose={props.onClose}>
      <blockquote class="quoted">{message.text}</blockquote>
      {!info && !error && <p>Loading…</p>}
      {info && (
        <>
          <h3>Read by</h3>
          <ul class="receipts" aria-label="Read by">
            {read.length === 0 && <li class="muted">Nobody yet</li>}
            {read.map((m) => (
              <li key={m.user}>
                <span class="name">{m.user}</span> <time>{when(m.readAt)}</time>
              </li>
            ))}
          </ul>
          <h3>Delivered to</h3>
          <ul class="receipts" aria-label="Delivered to">
            {delivered.length === 0 && <li class="muted">Nobody else</li>}
            {delivered.map((m) => (
              <li key={m.user}>
                <span class="name">{m.user}</span> <time>{when(m.deliveredAt)}</time>
              </li>
            ))}
          </ul>
          {waiting.length > 0 && (
            <>
              <h3>Not delivered yet</h3>
              <ul class="receipts" aria-label="Not delivered yet">
                {waiting.map((m) => (
                  <li key={m.user}>
                    <span class="name">{m.user}</span>
                  </li>
                ))}
              </ul>
            </>
          )}
        </>
      )}
      <FormError error={error} />
    </Modal>
  );
}
