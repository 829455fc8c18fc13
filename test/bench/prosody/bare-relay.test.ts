/** The runtime floors of the Prosody comparison (bare-relay.ts): they carry every message, and say so. */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from '../../helpers/temp-dir.ts';
import { bareRelaySide } from './compare.ts';
import { explainFloors, measureFloors } from './floors.ts';

const SIZES = { saturation: 300, latencySeconds: 1, archiveSaturation: 0 };
/** What the workload sends: 51 warm-up messages, the saturation's, one second at 200/s. */
const SENT = 51 + SIZES.saturation + 200;

afterAll(() => removeTempDirs());

describe('bare Node.js relay (the runtime floor under goals 2 and 3 of issue #17)', () => {
  it('relays every message over WebSocket, HTTP and Server-Sent Events, and its figures reach the floors printed', async () => {
    const bare = await bareRelaySide(SIZES);
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

  it("with the protocol's minimum, signs, checks and stores every message on both sides, and its figures reach the floors printed", async () => {
    const dir = tempDir('paracord-minimum-relay-');
    const minimum = await bareRelaySide(SIZES, dir);
    expect(minimum.lost).toBe(0);
    // Both processes stored every message, each with its 64-byte signature (B stores only what it verified).
    for (const file of ['a.sqlite', 'b.sqlite']) {
      const db = new Database(join(dir, file), { readonly: true });
      const rows = db.prepare('SELECT body, signature FROM messages').all() as Array<{ body: string; signature: Buffer }>;
      db.close();
      expect(rows).toHaveLength(SENT);
      expect(rows.every((r) => r.signature.length === 64 && typeof JSON.parse(r.body).id === 'number')).toBe(true);
    }
    const bare = { saturation: 10_000, cpuSaturationUs: 30, receiverCpuUs: 10, clientCpuUs: 40, p50: 1, p99: 3, cpuLowRateUs: 800 };
    const ours = { saturation: 1_000, cpuSaturationUs: 100, receiverCpuUs: 100, clientCpuUs: 10, p50: 3, p99: 9, cpuLowRateUs: 2_000, idleRssMb: 90 };
    const prosody = { ...ours, saturation: 2_000, p50: 0.5, p99: 2, cpuLowRateUs: 300, idleRssMb: 17 };
    const { lines, rows } = explainFloors({ signUs: 20, verifyUs: 50, bareNodeRssMb: 56 }, ours, prosody, 2, bare, { ...minimum, cpuLowRateUs: 1_300 });
    expect(lines.find((l) => l.includes("the protocol's minimum"))).toContain('1.63× the bare relay');
    expect(lines.find((l) => l.includes("the protocol's minimum"))).toContain("above goal 3's 1.5× already");
    expect(rows.find((r) => r.name === "floor: the protocol's minimum relay, latency at 200 msg/s p50")?.value).toBe(minimum.p50);
    expect(rows.find((r) => r.name === "floor: the protocol's minimum over the bare relay, sending CPU at 200 msg/s")?.value).toBeCloseTo(1.625);
  });

  it.skipIf(process.platform !== 'linux')('measures the bare runtime\'s memory, and how much of it is its own', async () => {
    const floors = await measureFloors(true);
    expect(floors.signUs).toBeGreaterThan(0);
    expect(floors.bareNodeRssMb).toBeGreaterThan(10);
    expect(floors.bareNodePrivateMb).toBeGreaterThan(1);
    expect(floors.bareNodePrivateMb).toBeLessThan(floors.bareNodeRssMb);
    const { lines, rows } = explainFloors(floors, { saturation: 1_000, cpuSaturationUs: 100, receiverCpuUs: 100, clientCpuUs: 10, idleRssMb: 50, idlePrivateMb: 40 }, { saturation: 2_000, cpuSaturationUs: 50, receiverCpuUs: 50, clientCpuUs: 10, idleRssMb: 17, idlePrivateMb: 5 }, 2);
    expect(lines.join('\n')).toContain(`${floors.bareNodePrivateMb!.toFixed(1)} MB of it its own memory`);
    expect(lines.join('\n')).toContain(`the node's own memory after the exchange is 40.0 MB = the runtime's + ${(40 - floors.bareNodePrivateMb!).toFixed(1)} MB (Prosody's 5.0 MB)`);
    expect(rows.find((r) => r.name.startsWith('floor: idle private memory'))?.value).toBe(floors.bareNodePrivateMb);
  });
});
