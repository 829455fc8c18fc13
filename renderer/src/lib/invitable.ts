/**
 * Whom a room offers to invite with one click: the owners of the friends' servers, unless they are
 * in the room or invited already, or banned from it (the node would refuse: the UI check of
 * 2026-11-27 found "Invite @owner:c.test" right under "Banned @owner:c.test").
 */
export function invitableOwners(peers: readonly string[], members: ReadonlyArray<{ user_id: string; membership: string }>, bans: ReadonlyArray<{ user_id: string }>): string[] {
  return peers.map((peer) => `@owner:${peer}`).filter((user) => !members.some((m) => m.user_id === user && m.membership !== 'leave') && !bans.some((b) => b.user_id === user));
}
