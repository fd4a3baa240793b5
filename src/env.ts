import type { AccountObject } from "./objects/account";
import type { GroupObject } from "./objects/group";
import type { LimiterObject } from "./objects/limiter";
import type { PresenceObject } from "./objects/presence";
import type { UserObject } from "./objects/user";

/** Bindings and variables from wrangler.toml, .dev.vars and `wrangler secret`. */
export interface Env {
  USER: DurableObjectNamespace<UserObject>;
  ACCOUNTS: DurableObjectNamespace<AccountObject>;
  GROUP: DurableObjectNamespace<GroupObject>;
  PRESENCE: DurableObjectNamespace<PresenceObject>;
  LIMITER: DurableObjectNamespace<LimiterObject>;
  ASSETS?: Fetcher;
  /** "development" locally (.dev.vars); unset in production. */
  ENVIRONMENT?: string;
  /** HS256 signing key for tokens; `wrangler secret put TOKEN_SECRET` in production. */
  TOKEN_SECRET?: string;
  TOKEN_TTL_SECONDS?: string;
  ALLOWED_ORIGINS?: string;
  MAX_TEXT_BYTES?: string;
  MAX_FRAME_BYTES?: string;
  HISTORY_PAGE_SIZE?: string;
  SYNC_PAGE_SIZE?: string;
  DELIVERY_MAX_ATTEMPTS?: string;
  DELIVERY_BACKOFF_BASE_MS?: string;
  DELIVERY_BACKOFF_MAX_MS?: string;
  DELIVERY_RECOVERY_MS?: string;
  /** "1" exposes the cost counters at /api/debug/metrics (benchmark only). */
  BENCH_METRICS?: string;
  /** Most members a group may have (default 1024). */
  GROUP_MEMBER_CAP?: string;
  PRESENCE_SHARDS?: string;
  PRESENCE_ONLINE_MS?: string;
  PRESENCE_WRITE_INTERVAL_MS?: string;
  PRESENCE_FLUSH_MS?: string;
  PRESENCE_MAX_SUBSCRIPTIONS?: string;
  SEND_RATE_PER_SEC?: string;
  SEND_BURST?: string;
  FRAME_RATE_PER_SEC?: string;
  FRAME_BURST?: string;
  FLOOD_COOLDOWN_MS?: string;
  MAX_SOCKETS_PER_USER?: string;
  MAX_DEVICES_PER_USER?: string;
  GROUP_CREATE_PER_MIN?: string;
  SHED_BUSY_AT?: string;
  SHED_OVERLOADED_AT?: string;
  LOGIN_RATE_PER_MIN?: string;
}
