import { expect } from 'vitest';
import { MEMBERSHIP_WIRE_ORDER, wireJson } from '../../main/core/federation/wire-json.ts';
import { makeEvent } from './events.ts';
import type { FakePeer } from './fake-peer.ts';
import type { NodeProcess } from './node-process.ts';
import { enc } from './rooms.ts';
import { sendSigned } from './signed-request.ts';

/** Makes `@u:<fake>` a joined member of `host`'s room: peer, invite, signed join. */
export async function joinFakePeer(host: NodeProcess, roomId: string, fake: FakePeer): Promise<string> {
  const added = await host.admin('POST', '/peers', { server_name: fake.serverName, endpoint: fake.url });
  expect(added.status, JSON.stringify(added.body)).toBe(200);
  const userId = `@u:${fake.serverName}`;
  const invited = await host.admin('POST', `/rooms/${enc(roomId)}/invites`, { user_id: userId });
  expect(invited.status, JSON.stringify(invited.body)).toBe(200);
  // Its depth must come after the invite's, as a real server's clock would make it.
  const join = makeEvent(fake.identity, {
    room_id: roomId, event_type: 'm.member.join', sender: userId, state_key: userId, content: { membership: 'join' },
    depth: Date.now() + 1_000,
  });
  const body = wireJson({ origin_server: fake.serverName, room_id: roomId, user_id: userId, event: join }, MEMBERSHIP_WIRE_ORDER);
  const joined = await sendSigned(fake.identity, host.federationUrl, 'POST', '/_paracord/federation/v1/join', body);
  expect(joined.status, JSON.stringify(joined.body)).toBe(200);
  return userId;
}
