import { useEffect, useState } from "hono/jsx/dom";
import type { EdgechatClient } from "../../src/client";
import { VISIBILITIES, type Visibility } from "../../src/protocol";
import { messageOf, Modal } from "./modal";
import { FormError } from "./form-error";

const LABELS: Record<Visibility, string> = { everyone: "Everyone", contacts: "My contacts", nobody: "Nobody" };

/** Privacy: who sees my last seen, and whether I send (and so see) read receipts. */
export function SettingsDialog(props: { client: EdgechatClient; onClose(): void }) {
  const { client } = props;
  const [error, setError] = useState("");
  const [saved, setSaved] = useState(false);

  useEffect(() => {
    client.getSettings().catch((err: unknown) => setError(messageOf(err)));
  }, []);

  const update = (changes: { lastSeen?: Visibility; readReceipts?: boolean }) => {
    setSaved(false);
    setError("");
    client.updateSettings(changes).then(
      () => setSaved(true),
      (err: unknown) => setError(messageOf(err)),
    );
  };

  const settings = client.settings;
  return (
    <Modal title="Privacy settings" onClose={props.onClose}>
      {!settings && !error && <p>Loading…</p>}
      {settings && (
        <form class="settings" onSubmit={(e: Event) => e.preventDefault()}>
          <label>
            Who can see my last seen
            <select
              name="lastSeen"
              value={settings.lastSeen}
              onChange={(e: Event) => update({ lastSeen: (e.currentTarget as HTMLSelectElement).value as Visibility })}
            >
              {VISIBILITIES.map((v) => (
                <option key={v} value={v} selected={v === settings.lastSeen}>
                  {LABELS[v]}
                </option>
              ))}
            </select>
          </label>
          <label class="check">
            <input
              type="checkbox"
              name="readReceipts"
              checked={settings.readReceipts}
              onChange={(e: Event) => update({ readReceipts: (e.currentTarget as HTMLInputElement).checked })}
            />
            Read receipts
          </label>
          <p class="muted">With read receipts off, others do not see when you read their messages, and you do not see theirs.</p>
          {saved && <p role="status">Saved.</p>}
        </form>
      )}
      <FormError error={error} />
    </Modal>
  );
}
