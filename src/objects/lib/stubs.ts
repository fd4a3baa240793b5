import type { Env } from "../../env";
import { costs } from "./metrics";

/** Stubs of other objects; every use is one call, counted for the cost report. */
export function userStub(env: Env, name: string) {
  costs.rpcCalls++;
  return env.USER.getByName(name);
}

export function accountStub(env: Env, name: string) {
  costs.rpcCalls++;
  return env.ACCOUNTS.getByName(name);
}
