/**
 * Identifier grammar of the wire protocol (docs/PROTOCOL.md "Identifiers"). Shared by the
 * node and the renderer so the UI validates exactly what the node will accept.
 */

/** DNS name (lowercase) or IPv4 literal, with an optional port. */
const HOST_LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const SERVER_NAME_SOURCE = `${HOST_LABEL}(?:\\.${HOST_LABEL})*(?::[0-9]{1,5})?`;

export const SERVER_NAME = new RegExp(`^${SERVER_NAME_SOURCE}$`);
export const KEY_ID = /^ed25519:[A-Za-z0-9_]{1,32}$/;
export const LOCALPART = /^[a-z0-9._=\-/]{1,64}$/;
export const USER_ID = new RegExp(`^@[a-z0-9._=\\-/]{1,64}:(${SERVER_NAME_SOURCE})$`);
export const ROOM_ID = new RegExp(`^![A-Za-z0-9._~-]{1,128}:(${SERVER_NAME_SOURCE})$`);
export const EVENT_ID = new RegExp(`^\\$[A-Za-z0-9._~-]{1,128}:(${SERVER_NAME_SOURCE})$`);
export const HEX_PUBLIC_KEY = /^[0-9a-f]{64}$/;
export const HEX_SIGNATURE = /^[0-9a-f]{128}$/;

export const MAX_SERVER_NAME_LENGTH = 255;

export function isServerName(value: string): boolean {
  if (value.length > MAX_SERVER_NAME_LENGTH || !SERVER_NAME.test(value)) return false;
  const port = value.split(':')[1];
  return port === undefined || (Number(port) >= 1 && Number(port) <= 65535);
}

/** The server part of `@user:server`, `!room:server` or `$event:server`. */
export function serverOf(id: string): string {
  const colon = id.indexOf(':');
  return colon < 0 ? '' : id.slice(colon + 1);
}
