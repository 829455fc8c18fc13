/**
 * What the tests against reference-shaped peers (reference-peer.ts) share: a room as our
 * in-process node shows it, waiting for an event to be shown here or pushed there (the files start
 * and stop their nodes and peers through the fixtures, test/helpers/fixtures.ts).
 */
import type { startInProcessNode } from './in-process-node.ts';
import type { RefEnvelope, ReferencePeer } from './reference-peer.ts';
import { enc, eventually } from './rooms.ts';

export type OurNode = Awaited<ReturnType<typeof startInProcessNode>>;

/** A room's last 100 messages as our node shows them (none while it does not show the room). */
export async function messagesOn(node: OurNode, roomId: string): Promise<any[]> {
  const answer = await node.admin('GET', `/rooms/${enc(roomId)}/messages?limit=100`);
  return answer.status === 200 ? answer.body.messages : [];
}

/** Waits until our node shows the event (polled or pushed) as `ready` wants it, and returns the message. */
export function shownMessage(node: OurNode, roomId: string, eventId: string, ready: (message: any) => boolean = () => true, timeoutMs?: number): Promise<any> {
  return eventually(async () => {
    const m = (await messagesOn(node, roomId)).find((x) => x.event_id === eventId);
    if (!m || !ready(m)) throw new Error('not polled yet');
    return m;
  }, timeoutMs);
}

/** Waits until the reference stored our event (pushed to it), and returns it as stored. */
export function pushedTo(ref: ReferencePeer, eventId: string): Promise<RefEnvelope> {
  return eventually(async () => {
    const e = ref.events.find((x) => x.event_id === eventId);
    if (!e) throw new Error('not pushed yet');
    return e;
  });
}
