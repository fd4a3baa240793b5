/**
 * Which presence shard holds a user: FNV-1a of the username, modulo the
 * shard count. Stable, cheap, and spreads users evenly.
 */
export function presenceShard(user: string, shards: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < user.length; i++) {
    hash ^= user.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % Math.max(1, shards);
}

export function presenceShardName(user: string, shards: number): string {
  return `presence-${presenceShard(user, shards)}`;
}
