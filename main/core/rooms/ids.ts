import { randomBytes } from 'node:crypto';

/** `$<opaque>:<server>` — 18 random bytes, base64url (characters allowed by the id grammar). */
export function newEventId(serverName: string): string {
  return `$${randomBytes(18).toString('base64url')}:${serverName}`;
}

export function newRoomId(serverName: string): string {
  return `!${randomBytes(12).toString('base64url')}:${serverName}`;
}

export function newInviteId(): string {
  return `inv_${randomBytes(12).toString('base64url')}`;
}
