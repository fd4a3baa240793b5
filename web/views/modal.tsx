import { useEffect, useRef, type PropsWithChildren } from "hono/jsx/dom";

/**
 * A modal <dialog>: the browser traps focus in it, Escape closes it and
 * focus returns to where it was.
 */
export function Modal(props: PropsWithChildren<{ title: string; onClose(): void }>) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const el = dialog.current;
    if (el && !el.open) el.showModal();
  }, []);
  return (
    <dialog ref={dialog} class="modal" aria-label={props.title} onClose={() => props.onClose()}>
      <header>
        <h2>{props.title}</h2>
        <button type="button" class="icon" aria-label="Close" onClick={() => props.onClose()}>
          ×
        </button>
      </header>
      <div class="modal-body">{props.children}</div>
    </dialog>
  );
}

/** A refusal from the server, in words. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
