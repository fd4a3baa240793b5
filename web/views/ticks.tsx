import type { Tick } from "../../src/client";

const LABELS: Record<Tick, string> = {
  pending: "Sending",
  sent: "Sent",
  delivered: "Delivered",
  read: "Read",
  failed: "Not sent",
};
const MARKS: Record<Tick, string> = { pending: "◷", sent: "✓", delivered: "✓✓", read: "✓✓", failed: "!" };

/** One grey tick sent, two grey delivered, two blue read; a clock while sending; "!" failed. */
export function Ticks(props: { tick: Tick }) {
  return (
    <span class="ticks" data-tick={props.tick} role="img" aria-label={LABELS[props.tick]} title={LABELS[props.tick]}>
      {MARKS[props.tick]}
    </span>
  );
}
