import { useState } from "hono/jsx/dom";
import type { EdgechatClient } from "../../src/client";
import { USERNAME_PATTERN } from "../../src/protocol";
import type { Target } from "../entries";
import { messageOf, Modal } from "./modal";
import { FormError } from "./form-error";

/** "alice, bob carol" -> ["alice", "bob", "carol"] */
export function usernames(text: string): string[] {
  return [...new Set(text.toLowerCase().split(/[\s,]+/).filter(Boolean))];
}

export function NewChat(props: { client: EdgechatClient; onOpen(target: Target): void; onClose(): void }) {
  const [error, setError] = useState("");
  return (
    <Modal title="New chat" onClose={props.onClose}>
      <form
        onSubmit={(e: Event) => {
          e.preventDefault();
          const name = String(new FormData(e.currentTarget as HTMLFormElement).get("username") ?? "").trim().toLowerCase();
          if (!USERNAME_PATTERN.test(name)) return setError("A username is 3 to 32 letters, digits or _.");
          if (name === props.client.user) return setError("That is you.");
          props.onOpen({ kind: "chat", id: name });
        }}
      >
        <label>
          Username
          <input name="username" required autofocus autocomplete="off" />
        </label>
        <FormError error={error} />
        <div class="actions">
          <button type="submit">Start chat</button>
        </div>
      </form>
    </Modal>
  );
}

export function NewGroup(props: { client: EdgechatClient; onOpen(target: Target): void; onClose(): void }) {
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  return (
    <Modal title="New group" onClose={props.onClose}>
      <form
        onSubmit={async (e: Event) => {
          e.preventDefault();
          const data = new FormData(e.currentTarget as HTMLFormElement);
          const name = String(data.get("name") ?? "").trim();
          const members = usernames(String(data.get("members") ?? "")).filter((u) => u !== props.client.user);
          setBusy(true);
          try {
            const info = await props.client.createGroup(name, members);
            props.onOpen({ kind: "group", id: info.group });
          } catch (err) {
            setError(messageOf(err));
            setBusy(false);
          }
        }}
      >
        <label>
          Group name
          <input name="name" required maxlength={100} autofocus autocomplete="off" />
        </label>
        <label>
          Members (usernames, separated by commas or spaces)
          <input name="members" autocomplete="off" />
        </label>
        <FormError error={error} />
        <div class="actions">
          <button type="submit" disabled={busy}>
            Create group
          </button>
        </div>
      </form>
    </Modal>
  );
}
