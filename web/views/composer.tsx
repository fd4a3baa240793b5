import { useEffect, useRef } from "hono/jsx/dom";

/** The text box: Enter sends, Shift+Enter starts a new line; every keystroke counts as typing. */
export function Composer(props: { disabled?: string; onSend(text: string): void; onTyping(composing: boolean): void }) {
  const box = useRef<HTMLTextAreaElement>(null);

  useEffect(() => {
    // Focus on a wide screen only: on a phone it would pop the keyboard up.
    if (matchMedia("(min-width: 700px)").matches) box.current?.focus();
  }, []);

  const send = () => {
    const el = box.current;
    if (!el) return;
    const text = el.value.trim();
    if (!text) return;
    el.value = "";
    props.onTyping(false);
    props.onSend(text);
  };

  if (props.disabled) return <p class="composer disabled">{props.disabled}</p>;
  return (
    <form
      class="composer"
      onSubmit={(e: Event) => {
        e.preventDefault();
        send();
      }}
    >
      <textarea
        ref={box}
        rows={1}
        aria-label="Message"
        placeholder="Type a message"
        onKeyDown={(e: KeyboardEvent) => {
          if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
            e.preventDefault();
            send();
          }
        }}
        onInput={() => props.onTyping((box.current?.value.length ?? 0) > 0)}
        onBlur={() => props.onTyping(false)}
      />
      <button type="submit">Send</button>
    </form>
  );
}
