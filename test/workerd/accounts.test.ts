/**
 * Abuse limits on the account endpoints: body size, the password policy, and
 * which client address the login throttle counts.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { clientAddress, LOCAL_ADDRESS } from "../../src/gateway/client-address";
import { COMMON_PASSWORDS } from "../../src/gateway/common-passwords";
import { MAX_JSON_BODY_BYTES, MIN_PASSWORD_LENGTH } from "../../src/protocol";
import { expectError, freshName, gateway, PASSWORD, postJson, register } from "./helpers";

/** JSON for `fields`, padded with trailing whitespace (still valid JSON) to exactly `bytes` bytes. */
function paddedJson(fields: Record<string, string>, bytes: number): string {
  const json = JSON.stringify(fields);
  return json + " ".repeat(bytes - json.length);
}

function postBody(path: string, body: BodyInit, headers: Record<string, string> = {}): Promise<Response> {
  return gateway(path, { method: "POST", headers: { "Content-Type": "application/json", ...headers }, body });
}

/** A body without Content-Length, handed out in 1 KiB chunks as it is read; counts what was read. */
function chunkedBody(prefix: string, totalBytes: number): { stream: ReadableStream<Uint8Array>; pulled: () => number } {
  const encoder = new TextEncoder();
  let pulled = 0;
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        const chunk = pulled === 0 ? encoder.encode(prefix) : encoder.encode(" ".repeat(Math.min(1024, totalBytes - pulled)));
        pulled += chunk.byteLength;
        controller.enqueue(chunk);
        if (pulled >= totalBytes) controller.close();
      },
    },
    // Nothing is produced before someone reads.
    { highWaterMark: 0 },
  );
  return { stream, pulled: () => pulled };
}

describe("request body limit", () => {
  it("refuses a register or login body over the limit, declared in Content-Length, with 413 payload_too_large", async () => {
    const username = freshName("big");
    const body = paddedJson({ username, password: PASSWORD }, MAX_JSON_BODY_BYTES + 1);
    await expectError(await postBody("/api/register", body), 413, "payload_too_large");
    await expectError(await postBody("/api/login", body), 413, "payload_too_large");
    // Nothing was created: the name is still free.
    expect((await postJson("/api/register", { username, password: PASSWORD })).status).toBe(201);
  });

  it("refuses a Content-Length over the limit before reading the body", async () => {
    const offered = 1024 * 1024;
    const { stream, pulled } = chunkedBody(JSON.stringify({ username: freshName("declared"), password: PASSWORD }), offered);
    await expectError(await postBody("/api/register", stream, { "Content-Length": String(offered) }), 413, "payload_too_large");
    expect(pulled()).toBeLessThan(MAX_JSON_BODY_BYTES);
  });

  it("accepts a body of exactly the limit", async () => {
    const username = freshName("edge");
    const res = await postBody("/api/register", paddedJson({ username, password: PASSWORD }, MAX_JSON_BODY_BYTES));
    expect(res.status).toBe(201);
  });

  it("stops reading a chunked body without Content-Length soon after it passes the limit", async () => {
    const username = freshName("chunked");
    const offered = 1024 * 1024;
    const { stream, pulled } = chunkedBody(JSON.stringify({ username, password: PASSWORD }), offered);
    await expectError(await postBody("/api/register", stream), 413, "payload_too_large");
    // The runtime may read a few chunks ahead; it must not take the whole megabyte.
    expect(pulled()).toBeLessThan(MAX_JSON_BODY_BYTES + 16 * 1024);
  });

  it("applies to POST /api/password too", async () => {
    const alice = await register("pwbig");
    const body = paddedJson({ password: PASSWORD, newPassword: "a much better secret" }, MAX_JSON_BODY_BYTES + 1);
    await expectError(await postBody("/api/password", body, { Authorization: `Bearer ${alice.token}` }), 413, "payload_too_large");
  });
});

describe("password policy", () => {
  it("refuses the most common passwords, whatever their case, saying why", async () => {
    for (const password of ["password123", "Passw0rd", "QWERTY123", "iloveyou1", "Summer2024"]) {
      const res = await postJson("/api/register", { username: freshName("common"), password });
      expect(res.status, password).toBe(400);
      expect(await res.json(), password).toEqual({ error: { code: "weak_password", message: expect.stringMatching(/common/) } });
    }
  });

  it("refuses a password that is or contains the username, saying why", async () => {
    const username = freshName("named");
    for (const password of [username, `${username}!2024`, `My${username.toUpperCase()}`]) {
      const res = await postJson("/api/register", { username, password });
      expect(res.status, password).toBe(400);
      expect(await res.json(), password).toEqual({ error: { code: "weak_password", message: expect.stringMatching(/username/) } });
    }
  });

  it("lists only lowercase passwords long enough to pass the length rule", () => {
    expect(COMMON_PASSWORDS.size).toBeGreaterThanOrEqual(500);
    for (const password of COMMON_PASSWORDS) {
      expect(password).toBe(password.toLowerCase());
      expect(password.length).toBeGreaterThanOrEqual(MIN_PASSWORD_LENGTH);
    }
  });
});

describe("the client address the login throttle counts", () => {
  const request = (ip: string) => new Request("http://localhost/api/login", { headers: { "CF-Connecting-IP": ip } });

  it("is the CF-Connecting-IP header when deployed, where Cloudflare's edge sets it", () => {
    const deployed = { ...env, ENVIRONMENT: undefined };
    expect(clientAddress(request("203.0.113.7"), deployed)).toBe("203.0.113.7");
    expect(clientAddress(request("198.51.100.2"), deployed)).toBe("198.51.100.2");
  });

  it("is one local address in development and tests, whatever the client puts in the header", () => {
    for (const environment of ["development", "test"]) {
      const local = { ...env, ENVIRONMENT: environment };
      expect(clientAddress(request("203.0.113.7"), local)).toBe(LOCAL_ADDRESS);
      expect(clientAddress(new Request("http://localhost/api/login"), local)).toBe(LOCAL_ADDRESS);
    }
  });
});
