import { useState } from "hono/jsx/dom";
import type { Session } from "../../src/client";
import { signIn } from "../session";
import { FormError } from "./form-error";

/** Sign in, or create an account: the same two fields. */
export function SignIn(props: { onSignedIn(session: Session): void }) {
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  const submit = async (action: "login" | "register", form: HTMLFormElement) => {
    const data = new FormData(form);
    const username = String(data.get("username") ?? "").trim().toLowerCase();
    const password = String(data.get("password") ?? "");
    setBusy(true);
    setError("");
    try {
      props.onSignedIn(await signIn(action, username, password));
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
      setBusy(false);
    }
  };

  return (
    <main class="sign-in">
      <form
        class="card"
        aria-labelledby="sign-in-title"
        onSubmit={(e: Event) => {
          e.preventDefault();
          // Enter in a field signs in; the other button says "Create account".
          const action = ((e as SubmitEvent).submitter as HTMLButtonElement | null)?.value === "register" ? "register" : "login";
          void submit(action, e.currentTarget as HTMLFormElement);
        }}
      >
        <h1 id="sign-in-title">edgechat</h1>
        <label>
          Username
          <input name="username" autocomplete="username" required minlength={3} maxlength={32} pattern="[A-Za-z0-9_]{3,32}" autofocus />
        </label>
        <label>
          Password
          <input name="password" type="password" autocomplete="current-password" required minlength={8} maxlength={256} />
        </label>
        <FormError error={error} />
        <div class="actions">
          <button type="submit" value="login" disabled={busy}>
            Sign in
          </button>
          <button type="submit" value="register" class="secondary" disabled={busy}>
            Create account
          </button>
        </div>
      </form>
    </main>
  );
}
