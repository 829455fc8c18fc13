import { expect } from 'vitest';
import { adminApi } from './admin-api.ts';
import type { InProcessNode } from './fixtures.ts';
import type { NodeProcess } from './node-process.ts';

export const enc = encodeURIComponent;

/** What these helpers use of a node: its admin API (a NodeProcess, or an in-process node). */
type Admin = { admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> };
/** A node whose typed admin client (admin-api.ts) the set-up helpers use: a refused operation throws its AdminError. */
type Node = NodeProcess | InProcessNode;

/** Creates a room on `host` and has each `@user:server` (of the given nodes) invited and joined. */
export async function roomWithMembers(host: Node, name: string, members: Array<[Node, string]>): Promise<string> {
  const { room_id: roomId } = await adminApi(host).createRoom({ name });
  for (const [node, userId] of members) await inviteAndJoin(host, roomId, node, userId);
  return roomId;
}

export async function inviteAndJoin(host: Node, roomId: string, node: Node, userId: string): Promise<void> {
  await adminApi(host).inviteToRoom({ room_id: roomId, user_id: userId });
  // Pushed, it is there when the invite is answered; to a node that receives by pull, once it pulls.
  const invite = await eventually(async () => {
    const found = (await adminApi(node).listInvites({ user_id: userId })).invites.find((i) => i.room_id === roomId);
    expect(found, `invite for ${userId}`).toBeDefined();
    return found!;
  });
  await adminApi(node).acceptInvite({ invite_id: invite.invite_id, user_id: userId });
}

/**
 * The room's messages as every server shows them: the fields that depend on who looks and from
 * where (can_edit, can_delete, delivery — issue #16) are left out, so views compare across servers.
 */
export async function messages(node: Admin, roomId: string): Promise<any[]> {
  const response = await node.admin('GET', `/rooms/${enc(roomId)}/messages?limit=500`);
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return (response.body.messages as Array<Record<string, unknown>>).map(({ can_edit: _e, can_delete: _d, delivery: _v, ...shared }) => shared);
}

export async function send(node: Node, roomId: string, body: string, userId?: string): Promise<string> {
  return (await adminApi(node).sendMessage({ room_id: roomId, body, ...(userId ? { user_id: userId } : {}) })).event_id;
}

/** Polls until `check` passes (real delivery takes real time); fails with the last error. */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 20_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      return await check();
    } catch (error) {
      lastError = error;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }
  throw lastError;
}
