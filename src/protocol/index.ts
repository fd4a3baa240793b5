export * from "./errors";
export * from "./frames";
export * from "./group-frames";
export * from "./presence-frames";
export * from "./limits";
export * from "./parse";
export * from "./token-bucket";
