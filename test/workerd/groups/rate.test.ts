/**
 * group.send and the per-user send rate: a new message takes a token, a
 * resend of a stored one is answered whatever the rate and costs none, as
 * for msg.send (test/workerd/presence/rate-limit.test.ts).
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { intVar } from "../../../src/config";
import type { ErrorFrame, GroupSentFrame } from "../../../src/protocol";
import { connectReady, floodSends, type Client } from "../helpers";
import { accounts, createGroup, groupRows } from "./support";

const BURST = intVar(env.SEND_BURST, 60);
/** Sends past the burst: far more than refill during the flood. */
const OVERFLOW = 40;

type Answer = GroupSentFrame | ErrorFrame;

/** Sends `count` group messages without waiting (clientIds `${tag}${i}`), then collects each one's answer. */
function flood(client: Client, group: string, count: number, tag: string): Promise<Answer[]> {
  return floodSends(client, count, tag, "group.sent", (clientId, i) => ({ type: "group.send", ref: clientId, clientId, group, text: `${tag} ${i}` }));
}

function sent(answers: Answer[]): GroupSentFrame[] {
  return answers.filter((f): f is GroupSentFrame => f.type === "group.sent");
}

async function groupOf(prefix: string) {
  const [ann, bob] = await accounts(prefix, "bob");
  const { id } = await createGroup(ann.user, [bob.user]);
  const annPhone = await connectReady(ann);
  return { id, annPhone };
}

describe("group sends over the send rate", () => {
  it("answers a resend of a stored message with group.sent duplicate while the sender is limited", async () => {
    const { id, annPhone } = await groupOf("ann");
    const answers = await flood(annPhone, id, BURST + OVERFLOW, "f");
    const first = answers[0] as GroupSentFrame;
    expect(answers.some((f) => f.type === "error" && f.code === "rate_limited")).toBe(true);

    // Still limited: every token went to the flood.
    annPhone.send({ type: "group.send", ref: "again", clientId: first.clientId, group: id, text: "f 0" });
    expect(await annPhone.nextOf("group.sent", "again")).toEqual({ ...first, ref: "again", duplicate: true });
  });

  it("refuses a new message while limited with rate_limited and a retry-after, and stores nothing for it", async () => {
    const { id, annPhone } = await groupOf("ann");
    const answers = await flood(annPhone, id, BURST + OVERFLOW, "f");
    const refused = answers.filter((f): f is ErrorFrame => f.type === "error");
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0]!.retryAfterMs).toBeGreaterThan(0);
    for (const refusal of refused) {
      // Later refusals are held behind the first (resendFirst), with what is left of its wait.
      expect(refusal).toMatchObject({ code: "rate_limited", resendFirst: refused[0]!.ref });
      expect(refusal.retryAfterMs).toBeGreaterThanOrEqual(0);
    }
    const stored = await groupRows<{ client_id: string }>(id, "SELECT client_id FROM messages WHERE event IS NULL ORDER BY seq");
    expect(stored.map((r) => r.client_id)).toEqual(sent(answers).map((f) => f.clientId));
  });

  it("spends no token on a resend: the burst is still there after many resends", async () => {
    const { id, annPhone } = await groupOf("ann");
    annPhone.send({ type: "group.send", ref: "m", clientId: "m", group: id, text: "once" });
    const original = await annPhone.nextOf("group.sent", "m");
    // One after another, so each one's token (if it took one) is back before the next.
    for (let i = 0; i < BURST - 1; i++) {
      annPhone.send({ type: "group.send", ref: `r${i}`, clientId: "m", group: id, text: "once" });
      expect(await annPhone.nextOf("group.sent", `r${i}`)).toMatchObject({ id: original.id, duplicate: true });
    }
    // Had every resend cost a token, the bucket would be empty now (refill during the resends is a few tokens).
    const answers = await flood(annPhone, id, BURST - 1, "n");
    expect(sent(answers)).toHaveLength(BURST - 1);
  });
});
