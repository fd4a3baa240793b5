/**
 * The one-to-one load engine behind `pairs` and `ramp`: open-loop sends at a
 * target rate, round-robin over every user of every pair, each to its partner.
 * It tracks three times per message: acknowledged (`msg.sent`), delivered
 * (`msg` at the recipient) and ticked (the sender's `receipt` covering it,
 * after the recipient's client sent `receipt.delivered`).
 */
import type { ServerFrame } from "../../src/protocol";
import type { BenchClient } from "../client";
import { sleep, until, type Progress } from "../scenario";
import { perSecond } from "../stats";

/** After the window: give up once nothing arrived for `idleMs`, or after `maxMs` in all. */
export interface Drain {
  idleMs: number;
  maxMs: number;
}

export interface StepResult {
  rate: number;
  seconds: number;
  sent: number;
  acked: number;
  delivered: number;
  ticked: number;
  /** Not delivered by the end of the drain: sent - delivered. */
  lost: number;
  /** How long after the window the last deliveries and ticks took to arrive. */
  drainMs: number;
  errors: Record<string, number>;
  /** Rates within the sending window only. */
  ackedPerSec: number;
  deliveredPerSec: number;
  /** Not yet delivered when the window closed. */
  backlog: number;
  latency: { delivered: number[]; acked: number[]; ticked: number[] };
  /** How late the generator sent, behind its own schedule (ms). */
  generatorLagMax: number;
}

interface InFlight {
  sentAt: number;
  key: string;
  /** The ack and the delivery race on two sockets: forget the message after both. */
  seen: number;
}

export class PairsLoad {
  readonly #senders: { client: BenchClient; to: string }[] = [];
  readonly #byClientId = new Map<string, InFlight>();
  /** `from>to#seq` -> sent time, until its tick arrives. */
  readonly #awaitingTick = new Map<string, number>();
  readonly #ticked = new Map<string, number>();
  #step = this.#fresh(0, 0);
  #windowEnd = Number.POSITIVE_INFINITY;
  #counter = 0;
  readonly #tag: string;
  readonly #text: string;

  constructor(pairs: [BenchClient, BenchClient][], tag: string, textBytes: number) {
    this.#tag = tag;
    this.#text = "x".repeat(textBytes);
    for (const [a, b] of pairs) {
      this.#senders.push({ client: a, to: b.user }, { client: b, to: a.user });
      for (const client of [a, b]) client.onFrame = (frame, at) => this.#onFrame(client.user, frame, at);
    }
  }

  /**
   * Sends `rate` messages a second for `seconds`, then waits for every delivery
   * and tick (late is not lost), within the bounds of `drain`.
   */
  async run(rate: number, seconds: number, drain: Drain, progress?: Progress, label = ""): Promise<StepResult> {
    const step = (this.#step = this.#fresh(rate, seconds));
    const total = Math.round(rate * seconds);
    const start = performance.now();
    this.#windowEnd = start + seconds * 1000;
    // Bounded by count (total) and by time (the window plus a grace period).
    while (step.sent < total && performance.now() < this.#windowEnd + 5_000) {
      const now = performance.now();
      const due = Math.min(total, Math.floor(((now - start) * rate) / 1000) + 1);
      for (; step.sent < due; step.sent++) {
        step.generatorLagMax = Math.max(step.generatorLagMax, now - (start + (step.sent * 1000) / rate));
        this.#send();
      }
      progress?.update(`${label}${rate}/s: sent ${step.sent}/${total} acked ${step.acked} delivered ${step.delivered} ticked ${step.ticked}`);
      await sleep(1);
    }
    const sendingDone = performance.now();
    await until(() => performance.now() >= this.#windowEnd, seconds * 1000 + 5_000);
    const inWindowAcked = step.acked;
    const inWindowDelivered = step.delivered;
    const window = Math.max(sendingDone, this.#windowEnd) - start;
    step.backlog = step.sent - step.delivered;
    const settled = () => step.acked + this.#errorCount(step) >= step.sent && step.delivered >= step.acked && step.ticked >= step.acked;
    const drainStart = performance.now();
    let lastCount = -1;
    let lastMove = drainStart;
    await until(
      () => settled() || performance.now() - lastMove > drain.idleMs || performance.now() - drainStart > drain.maxMs,
      drain.maxMs,
      () => {
        const count = step.delivered + step.ticked + step.acked;
        if (count !== lastCount) [lastCount, lastMove] = [count, performance.now()];
        progress?.update(`${label}${rate}/s: draining, delivered ${step.delivered}/${step.sent} ticked ${step.ticked}/${step.acked}`);
      },
    );
    step.drainMs = performance.now() - drainStart;
    step.lost = step.sent - step.delivered;
    step.ackedPerSec = perSecond(inWindowAcked, window);
    step.deliveredPerSec = perSecond(inWindowDelivered, window);
    // Frames that still straggle in count towards nothing.
    this.#step = this.#fresh(0, 0);
    return step;
  }

  #send(): void {
    const sender = this.#senders[this.#counter % this.#senders.length]!;
    const clientId = `${this.#tag}-${this.#counter++}`;
    this.#byClientId.set(clientId, { sentAt: performance.now(), key: `${sender.client.user}>${sender.to}`, seen: 0 });
    sender.client.send({ type: "msg.send", clientId, to: sender.to, text: this.#text });
  }

  #onFrame(user: string, frame: ServerFrame, at: number): void {
    const step = this.#step;
    if (frame.type === "msg.sent") {
      const flight = this.#byClientId.get(frame.clientId);
      if (!flight) return;
      this.#seen(frame.clientId, flight);
      step.acked++;
      step.latency.acked.push(at - flight.sentAt);
      const key = `${flight.key}#${frame.seq}`;
      if (frame.seq <= (this.#ticked.get(flight.key) ?? 0)) this.#tick(step, at - flight.sentAt);
      else this.#awaitingTick.set(key, flight.sentAt);
    } else if (frame.type === "msg" && frame.message.to === user) {
      const flight = this.#byClientId.get(frame.message.clientId);
      if (!flight) return;
      this.#seen(frame.message.clientId, flight);
      step.delivered++;
      step.latency.delivered.push(at - flight.sentAt);
    } else if (frame.type === "receipt") {
      const stream = `${user}>${frame.chat}`;
      const from = this.#ticked.get(stream) ?? 0;
      if (frame.delivered <= from) return;
      this.#ticked.set(stream, frame.delivered);
      for (let seq = from + 1; seq <= frame.delivered; seq++) {
        const sentAt = this.#awaitingTick.get(`${stream}#${seq}`);
        if (sentAt === undefined) continue;
        this.#awaitingTick.delete(`${stream}#${seq}`);
        this.#tick(step, at - sentAt);
      }
    } else if (frame.type === "error") {
      step.errors[frame.code] = (step.errors[frame.code] ?? 0) + 1;
    }
  }

  #seen(clientId: string, flight: InFlight): void {
    if (++flight.seen === 2) this.#byClientId.delete(clientId);
  }

  #tick(step: StepResult, latency: number): void {
    step.ticked++;
    step.latency.ticked.push(latency);
  }

  #errorCount(step: StepResult): number {
    return Object.values(step.errors).reduce((a, b) => a + b, 0);
  }

  #fresh(rate: number, seconds: number): StepResult {
    return {
      rate,
      seconds,
      sent: 0,
      acked: 0,
      delivered: 0,
      ticked: 0,
      lost: 0,
      drainMs: 0,
      errors: {},
      ackedPerSec: 0,
      deliveredPerSec: 0,
      backlog: 0,
      latency: { delivered: [], acked: [], ticked: [] },
      generatorLagMax: 0,
    };
  }
}
