/**
 * Issue #18, metrics: `GET /metrics` on the admin listener of a real node, after real traffic,
 * parsed with a strict exposition-format parser (test/helpers/prom-text.ts).
 */
import { beforeAll, describe, expect, it } from './helpers/fixtures.ts';
import { request } from 'undici';
import type { NodeProcess } from './helpers/node-process.ts';
import { eventually, messages, roomWithMembers, send } from './helpers/rooms.ts';
import { parsePrometheusText, sampleSum, sampleValue } from './helpers/prom-text.ts';

let alpha: NodeProcess;
let beta: NodeProcess;

beforeAll(async ({ fileNodes }) => {
  [alpha, beta] = await fileNodes.peered({ serverName: 'alpha.test', args: ['--retry-initial', '200', '--retry-max', '1000'] }, 'beta.test');
});

async function scrape(node: NodeProcess, token: string | null = node.adminToken) {
  const response = await request(`${node.ready.admin_url}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: response.statusCode, type: String(response.headers['content-type']), body: await response.body.text() };
}

describe('GET /metrics', () => {
  it('needs the admin token', async () => {
    for (const token of [null, 'f'.repeat(64)]) {
      const answer = await scrape(alpha, token);
      expect(answer.status).toBe(401);
      expect(JSON.parse(answer.body).error).toMatch(/token/);
    }
  });

  it('exposes received events, deliveries, queue, peers, rate-limit refusals and process metrics', async () => {
    const roomId = await roomWithMembers(alpha, 'metrics', [[beta, '@owner:beta.test']]);
    const sent: string[] = [];
    for (let i = 0; i < 5; i++) sent.push(await send(alpha, roomId, `message ${i}`));
    await eventually(async () => expect((await messages(beta, roomId)).map((m) => m.event_id)).toEqual(expect.arrayContaining(sent)));
    // An unsigned push is refused, and counted by its error code.
    const forged = await request(`${beta.federationUrl}/_paracord/federation/v1/event`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(forged.statusCode).toBe(401);
    const refusedCode = ((await forged.body.json()) as { error: string }).error;

    const answer = await scrape(beta);
    expect(answer.status).toBe(200);
    expect(answer.type).toMatch(/^text\/plain; version=0\.0\.4/);
    const b = parsePrometheusText(answer.body);
    expect(b.get('paracord_federation_events_received_total')?.type).toBe('counter');
    // Pushed, or fetched by beta's catch-up when it joined (a race): counted under `via` each way.
    expect(sampleSum(b, 'paracord_federation_events_received_total', { result: 'accepted' })).toBeGreaterThanOrEqual(5);
    expect(sampleValue(b, 'paracord_federation_events_received_total', { result: 'refused', error: refusedCode })).toBe(1);
    expect(sampleValue(b, 'paracord_peers', { trust: 'allow' })).toBe(1);
    expect(sampleValue(b, 'paracord_peers', { trust: 'block' })).toBe(0);
    expect(sampleValue(b, 'paracord_sqlite_bytes', { file: 'database' })).toBeGreaterThan(0);
    expect(sampleValue(b, 'paracord_sqlite_bytes', { file: 'search' })).toBeGreaterThan(0);
    expect(sampleValue(b, 'paracord_quarantined_events')).toBe(0);
    expect(sampleValue(b, 'paracord_last_backup_timestamp_seconds')).toBe(0);
    expect(sampleValue(b, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(sampleValue(b, 'nodejs_heap_size_total_bytes')).toBeGreaterThan(0);

    const a = parsePrometheusText((await scrape(alpha)).body);
    expect(sampleValue(a, 'paracord_delivery_attempts_total', { destination: 'beta.test', outcome: 'delivered' })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(a, 'paracord_delivery_events_delivered_total', { destination: 'beta.test' })).toBeGreaterThanOrEqual(5);
    expect(a.get('paracord_delivery_latency_seconds')?.type).toBe('histogram');
    const count = sampleValue(a, 'paracord_delivery_latency_seconds_count', { destination: 'beta.test' })!;
    expect(count).toBeGreaterThanOrEqual(1);
    expect(sampleValue(a, 'paracord_delivery_latency_seconds_bucket', { destination: 'beta.test', le: '+Inf' })).toBe(count);
    expect(sampleValue(a, 'paracord_outbox_entries', { destination: 'other', state: 'pending' })).toBe(0);

    // beta limits alpha hard: alpha's next pushes are refused with 429, counted on both sides.
    const limited = await beta.admin('PUT', '/peers/alpha.test/trust', { mode: 'allow', rate_limit: { per_second: 0.001, burst: 1 } });
    expect(limited.status, JSON.stringify(limited.body)).toBe(200);
    for (let i = 0; i < 3; i++) await send(alpha, roomId, `limited ${i}`);
    await eventually(async () => {
      const after = parsePrometheusText((await scrape(beta)).body);
      expect(sampleValue(after, 'paracord_federation_rate_limited_total')).toBeGreaterThanOrEqual(1);
      expect(sampleValue(after, 'paracord_federation_events_received_total', { result: 'refused', error: 'rate_limited' })).toBeGreaterThanOrEqual(1);
    });
    await eventually(async () => {
      const after = parsePrometheusText((await scrape(alpha)).body);
      expect(sampleValue(after, 'paracord_delivery_attempts_total', { destination: 'beta.test', outcome: 'retry' })).toBeGreaterThanOrEqual(1);
      expect(sampleValue(after, 'paracord_outbox_entries', { destination: 'beta.test', state: 'pending' })).toBeGreaterThanOrEqual(1);
    });
  });
});
