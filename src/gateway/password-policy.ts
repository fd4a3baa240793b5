import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from "../protocol";
import { COMMON_PASSWORDS } from "./common-passwords";
import { ApiError } from "./errors";

/**
 * Why a new password is refused, or undefined when it may be used. Applied to
 * sign-ups and password changes, never to logins: an account whose password
 * predates a rule must still be able to sign in (and then change it).
 *
 * @example
 * passwordProblem("password123", "alice"); // "That password is one of the most common ones; ..."
 */
export function passwordProblem(password: string, username: string): string | undefined {
  if (password.length < MIN_PASSWORD_LENGTH || password.length > MAX_PASSWORD_LENGTH) {
    return `A password is ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters.`;
  }
  const lower = password.toLowerCase();
  if (COMMON_PASSWORDS.has(lower)) {
    return "That password is one of the most common ones, which are guessed first; choose another.";
  }
  // Usernames are lowercase already; the username is the first thing a guesser tries.
  if (lower.includes(username)) return "A password may not contain the username.";
  return undefined;
}

/** Throws 400 `weak_password` with the reason when the policy refuses the password. */
export function requireStrongPassword(password: string, username: string): void {
  const problem = passwordProblem(password, username);
  if (problem !== undefined) throw new ApiError("weak_password", problem);
}
