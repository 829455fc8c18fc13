import { expect } from 'vitest';

export const enc = encodeURIComponent;

/** What these helpers use of a node: its admin API (a NodeProcess, or an in-process node). */
type Admin = { admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> };

/** Creates a room on `host` and has each `@user:server` (of the given nodes) invited and joined. */
export async function roomWithMembers(host: Admin, name: string, members: Array<[Admin, string]>): Promise<string> {
  const created = await host.admin('POST', '/rooms', { name });
  expect(created.status).toBe(200);
  const roomId: string = created.body.room_id;
  for (const [node, userId] of members) await inviteAndJoin(host, roomId, node, userId);
  return roomId;
}

export async function inviteAndJoin(host: Admin, roomId: string, node: Admin, userId: string): Promise<void> {
  const invited = await host.admin('POST', `/rooms/${enc(roomId)}/invites`, { user_id: userId });
  expect(invited.status, JSON.stringify(invited.body)).toBe(200);
  const invites = (await node.admin('GET', `/invites?user_id=${enc(userId)}`)).body.invites as Array<{ invite_id: string; room_id: string }>;
  const invite = invites.find((i) => i.room_id === roomId);
  expect(invite, `invite for ${userId}`).toBeDefined();
  const accepted = await node.admin('POST', `/invites/${invite!.invite_id}/accept`, { user_id: userId });
  expect(accepted.status, JSON.stringify(accepted.body)).toBe(200);
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

export async function send(node: Admin, roomId: string, body: string, userId?: string): Promise<string> {
  const response = await node.admin('POST', `/rooms/${enc(roomId)}/messages`, { body, ...(userId ? { user_id: userId } : {}) });
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return response.body.event_id;
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
