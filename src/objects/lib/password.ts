/**
 * Password hashing with PBKDF2-SHA256 through WebCrypto. workerd refuses more
 * than 100,000 iterations, so that is what we use; the count is stored with
 * each hash so it can be raised later without breaking old accounts.
 */
export const PBKDF2_ITERATIONS = 100_000;

export interface PasswordHash {
  salt: string; // base64
  hash: string; // base64
  iterations: number;
}

export async function hashPassword(password: string, salt?: Uint8Array, iterations = PBKDF2_ITERATIONS): Promise<PasswordHash> {
  const saltBytes = salt ?? crypto.getRandomValues(new Uint8Array(16));
  const bits = await derive(password, saltBytes, iterations);
  return { salt: toBase64(saltBytes), hash: toBase64(new Uint8Array(bits)), iterations };
}

export async function verifyPassword(password: string, stored: PasswordHash): Promise<boolean> {
  const bits = await derive(password, fromBase64(stored.salt), stored.iterations);
  const expected = fromBase64(stored.hash);
  const actual = new Uint8Array(bits);
  if (actual.byteLength !== expected.byteLength) return false;
  // Constant time, so the comparison leaks nothing about how much matched.
  return crypto.subtle.timingSafeEqual(actual, expected);
}

async function derive(password: string, salt: Uint8Array, iterations: number): Promise<ArrayBuffer> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(password), "PBKDF2", false, ["deriveBits"]);
  return crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, key, 256);
}

function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}
