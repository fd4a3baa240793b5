/**
 * edgechat's Worker: the gateway app and the Durable Object classes it routes to.
 */
import { app } from "./gateway/app";

export { AccountObject } from "./objects/account";
export { GroupObject } from "./objects/group";
export { LimiterObject } from "./objects/limiter";
export { PresenceObject } from "./objects/presence";
export { UserObject } from "./objects/user";

export default app;
