/**
 * One group under load: creates it through the sender's socket, then tracks
 * every message it sends until each member has it (send -> each member,
 * send -> last member), and each member's newest seq.
 */
import type { ServerFrame } from "../../src/protocol";
import type { BenchClient, FrameOf } from "../client";

/** Per message: when it was sent and how many members have it. */
interface Tracked {
  sentAt: number;
  count: number;
  done: (at: number) => void;
}

const MEMBERS_PER_FRAME = 256;

export class GroupRun {
  readonly group: string;
  readonly #tracked = new Map<string, Tracked>();
  readonly maxSeq = new Map<string, number>();
  perMember: number[] = [];
  deliveries = 0;

  readonly members: BenchClient[];

  constructor(group: string, members: BenchClient[]) {
    this.group = group;
    this.members = members;
    for (const m of members) m.onFrame = (frame, at) => this.#onFrame(m, frame, at);
  }

  /** Sends one message; resolves with send -> last member (ms), or undefined after `timeoutMs`. */
  send(sender: BenchClient, clientId: string, text: string, timeoutMs: number): Promise<number | undefined> {
    return new Promise((resolve) => {
      const sentAt = performance.now();
      const timer = setTimeout(() => {
        this.#tracked.delete(clientId);
        resolve(undefined);
      }, timeoutMs);
      this.#tracked.set(clientId, {
        sentAt,
        count: 0,
        done: (at) => {
          clearTimeout(timer);
          this.#tracked.delete(clientId);
          resolve(at - sentAt);
        },
      });
      sender.send({ type: "group.send", clientId, group: this.group, text });
    });
  }

  #onFrame(member: BenchClient, frame: ServerFrame, at: number): void {
    if (frame.type === "group.msg" && frame.message.group === this.group) {
      this.maxSeq.set(member.user, Math.max(this.maxSeq.get(member.user) ?? 0, frame.message.seq));
      const tracked = this.#tracked.get(frame.message.clientId);
      if (!tracked) return;
      this.deliveries++;
      this.perMember.push(at - tracked.sentAt);
      if (++tracked.count === this.members.length - 1) tracked.done(at);
    } else if (frame.type === "group.page" && frame.group === this.group) {
      const top = frame.messages.at(-1)?.seq ?? 0;
      this.maxSeq.set(member.user, Math.max(this.maxSeq.get(member.user) ?? 0, top));
    }
  }
}

export async function createGroup(owner: BenchClient, members: BenchClient[], tag: string): Promise<{ group: string; head: number }> {
  const others = members.slice(1).map((m) => m.user);
  owner.send({ type: "group.create", ref: `c${tag}`, name: `bench ${tag}`, members: others.slice(0, MEMBERS_PER_FRAME - 1) });
  const created = await owner.next<FrameOf<"group.created">>((f) => (f.type === "group.created" || f.type === "error") && "ref" in f && f.ref === `c${tag}`, 60_000);
  if (created.type !== "group.created") throw new Error(`group.create: ${JSON.stringify(created)}`);
  let head = created.info.head;
  for (let i = MEMBERS_PER_FRAME - 1, n = 0; i < others.length; i += MEMBERS_PER_FRAME, n++) {
    owner.send({ type: "group.add", ref: `a${tag}${n}`, group: created.info.group, members: others.slice(i, i + MEMBERS_PER_FRAME) });
    const info = await owner.next<FrameOf<"group.info">>((f) => (f.type === "group.info" || f.type === "error") && "ref" in f && f.ref === `a${tag}${n}`, 60_000);
    if (info.type !== "group.info") throw new Error(`group.add: ${JSON.stringify(info)}`);
    head = info.info.head;
  }
  return { group: created.info.group, head };
}
