import { useEffect, useState } from "hono/jsx/dom";
import type { EdgechatClient } from "../../src/client";
import type { GroupInfo } from "../../src/protocol";
import { messageOf, Modal } from "./modal";
import { usernames } from "./new-chat";
import { FormError } from "./form-error";

/** Members and roles; admins add, remove, promote and demote; anyone may leave. */
export function GroupInfoDialog(props: { client: EdgechatClient; group: string; onClose(): void }) {
  const { client, group } = props;
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    client.groupInfo(group).catch((err: unknown) => setError(messageOf(err)));
  }, []);

  const chat = client.groupChat(group);
  const info = chat?.info;
  const me = client.user;
  const admin = chat?.active === true && info?.members.some((m) => m.user === me && m.role === "admin") === true;

  const act = async (run: () => Promise<GroupInfo>) => {
    setBusy(true);
    setError("");
    try {
      await run();
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal title={`Group info: ${chat?.name ?? group}`} onClose={props.onClose}>
      {!info && !error && <p>Loading…</p>}
      {info && (
        <>
          <p class="muted">
            {info.members.length} {info.members.length === 1 ? "member" : "members"} · created by {info.createdBy}
          </p>
          <ul class="members" aria-label="Members">
            {info.members.map((m) => (
              <li key={m.user} data-user={m.user}>
                <span class="name">{m.user === me ? `${m.user} (you)` : m.user}</span>
                {m.role === "admin" && <span class="badge">Admin</span>}
                {admin && m.user !== me && (
                  <span class="member-actions">
                    {m.role === "admin" ? (
                      <button type="button" class="link" disabled={busy} onClick={() => act(() => client.demote(group, m.user))}>
                        Dismiss as admin
                      </button>
                    ) : (
                      <button type="button" class="link" disabled={busy} onClick={() => act(() => client.promote(group, m.user))}>
                        Make admin
                      </button>
                    )}
                    <button
                      type="button"
                      class="link danger"
                      disabled={busy}
                      aria-label={`Remove ${m.user}`}
                      onClick={() => act(() => client.removeMember(group, m.user))}
                    >
                      Remove
                    </button>
                  </span>
                )}
              </li>
            ))}
          </ul>
        </>
      )}
      {admin && (
        <form
          class="inline-form"
          onSubmit={(e: Event) => {
            e.preventDefault();
            const form = e.currentTarget as HTMLFormElement;
            const members = usernames(String(new FormData(form).get("members") ?? ""));
            if (members.length === 0) return;
            void act(async () => {
              const next = await client.addMembers(group, members);
              form.reset();
              return next;
            });
          }}
        >
          <label>
            Add members
            <input name="members" autocomplete="off" placeholder="usernames" />
          </label>
          <button type="submit" disabled={busy}>
            Add
          </button>
        </form>
      )}
      <FormError error={error} />
      {chat?.active && (
        <div class="actions">
          <button type="button" class="danger" disabled={busy} onClick={() => act(() => client.leaveGroup(group))}>
            Leave group
          </button>
        </div>
      )}
    </Modal>
  );
}
