/** The field schemas every frame family shares. */
import * as v from "valibot";
import { MAX_ID_LENGTH, USERNAME_PATTERN } from "./limits";

export const GROUP_ID_PATTERN = /^g_[a-z0-9]{8,40}$/;

/** Client-chosen identifiers: client message ids, refs. */
export const id = v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_ID_LENGTH));
export const username = v.pipe(v.string(), v.regex(USERNAME_PATTERN, "must be a username (a-z, 0-9, _; 3 to 32 characters)"));
export const groupId = v.pipe(v.string(), v.regex(GROUP_ID_PATTERN, "must be a group id (g_...)"));
export const seq = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER));
export const positive = v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(Number.MAX_SAFE_INTEGER));
/** Optional correlation id: replies and errors caused by the frame echo it. */
export const ref = v.optional(id);
