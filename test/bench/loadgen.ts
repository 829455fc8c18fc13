/**
 * Load generator, run in its own process by run.ts: sends pre-signed events from a peer
 * identity to a node, as fast as the node takes them (bounded concurrency), and prints one
 * JSON line with what it measured. Events are signed before the clock starts; each request is
 * signed as it goes (a real peer has to do that too).
 *
 * argv: JSON {url, identityFile, roomId, sender, mode: 'single'|'batch', count, concurrency, batchSize}
 */
import { Agent, request } from 'undici';
import { Identity } from '../../main/core/identity/identity.ts';
import { envelopeWireJson, signEnvelope } from '../../main/core/federation/envelope.ts';
import { signRequestHeaders } from '../../main/core/federation/request-signature.ts';

const options = JSON.parse(process.argv[2]!) as {
  url: string; identityFile: string; roomId: string; sender: string; mode: 'single' | 'batch'; count: number; concurrency: number; batchSize: number;
};
const identity = Identity.load(options.identityFile);
const now = Date.now();
const bodies: Buffer[] = [];
const wires: string[] = [];
for (let i = 0; i < options.count; i++) {
  const event = signEnvelope(
    {
      event_id: `$lg${now.toString(36)}x${i}:${identity.serverName}`, room_id: options.roomId, event_type: 'm.message', sender: options.sender,
      origin_server: identity.serverName, origin_ts: now, depth: now + i, state_key: null,
      content: { body: `load ${i} — a message of ordinary length, some forty to eighty characters`, format: 'plain' },
    },
    identity,
  );
  wires.push(envelopeWireJson(event));
}
// Encoded once, before the clock starts, as a peer's sender holds its batches ready.
if (options.mode === 'single') bodies.push(...wires.map((w) => Buffer.from(w)));
else for (let i = 0; i < wires.length; i += options.batchSize) bodies.push(Buffer.from(`{"events":[${wires.slice(i, i + options.batchSize).join(',')}]}`));

const path = options.mode === 'single' ? '/_paracord/federation/v1/event' : '/_paracord/federation/v1/events';
const dispatcher = new Agent({ connections: options.concurrency, pipelining: 1 });
let next = 0;
let failures = 0;
let accepted = 0;
const started = performance.now();
const cpuBefore = process.cpuUsage();
await Promise.all(
  Array.from({ length: options.concurrency }, async () => {
    while (next < bodies.length) {
      const body = bodies[next++]!;
      const headers = signRequestHeaders(identity, 'POST', path, body);
      const response = await request(options.url + path, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body, dispatcher });
      const text = await response.body.text();
      if (response.statusCode >= 300) failures++;
      else if (options.mode === 'single') accepted++;
      else accepted += (JSON.parse(text) as { results: Array<{ inserted?: boolean }> }).results.filter((r) => r.inserted !== undefined).length;
    }
  }),
);
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
process.stdout.write(JSON.stringify({ events: options.count, accepted, failures, seconds, events_per_second: accepted / seconds, cpu_seconds: cpuSeconds }) + '\n');
await dispatcher.close();
