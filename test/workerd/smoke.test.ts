import { env, runInDurableObject } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

describe("smoke", () => {
  it("answers health", async () => {
    const res = await exports.default.fetch("http://example.com/api/health");
    expect(res.status).toBe(200);
  });
  it("runs in the user object", async () => {
    const stub = env.USER.getByName("smoke_user");
    const rev = await runInDurableObject(stub, (instance: any) => typeof instance);
    expect(rev).toBe("object");
  });
});
