/** The runtime floor of the Prosody comparison (bare-relay.ts): it carries every message, and says so. */
import { describe, expect, it } from 'vitest';
import { bareRelaySide } from './compare.ts';
import { explainFloors } from './floors.ts';

describe('bare Node.js relay (the runtime floor under goals 2 and 3 of issue #17)', () => {
  it('relays every message over WebSocket, HTTP and Server-Sent Events, and its figures reach the floors printed', async () => {
    const bare = await bareRelaySide({ saturation: 300, latencySeconds: 1, archiveSaturation: 0 });
    expect(bare.lost).toBe(0);
    expect(bare.saturation).toBeGreaterThan(0);
    expect(bare.p50).toBeGreaterThan(0);
    expect(bare.p99).toBeGreaterThanOrEqual(bare.p50!);
    expect(bare.cpuLowRateUs).toBeGreaterThanOrEqual(0);
    const side = { saturation: 1_000, cpuSaturationUs: 100, receiverCpuUs: 100, clientCpuUs: 10, p50: 0.5, p99: 2, cpuLowRateUs: 250, idleRssMb: 17 };
    const { lines, rows } = explainFloors({ signUs: 20, verifyUs: 50, bareNodeRssMb: 56 }, side, side, 2, bare);
    expect(lines.some((l) => l.includes('two bare Node.js processes'))).toBe(true);
    expect(rows.find((r) => r.name === 'floor: bare Node.js relay, latency at 200 msg/s p50')?.value).toBe(bare.p50);
  });
});
