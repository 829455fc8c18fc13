import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

/**
 * A port on 127.0.0.1 where nothing listens now, for this test alone: taken below the kernel's
 * ephemeral range, which a listener on port 0 never gets, and reserved for the whole test run
 * (`PORTS_ENV`), so that no other test (in this process or another vitest run of the same
 * `npm test`) is given it. Two uses:
 * - a "closed" address, where nothing will answer (a port from the ephemeral range was given to
 *   the next node started on port 0: a home's closed address answered as the other home);
 * - a process node's listen port (node-process.ts), so that a restart finds its port still free
 *   (one given on port 0 could be given to another node between the stop and the restart).
 * Where the range leaves no room below it, any free port, as before.
 */
export async function closedPort(): Promise<number> {
  const low = ephemeralLow();
  for (let attempt = 0; low > 11_024 && attempt < 200; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * (low - 11_024));
    if (reserve(port) && (await isFree(port))) return port;
  }
  return listenOnce(0);
}

/**
 * The directory of the run's reservations, a file per port (created exclusively, so one process
 * wins each port): scripts/test.mjs makes one for all the runs of an `npm test` and removes it at
 * the end; vitest.config.ts names one per vitest run otherwise. Without it, only this process's.
 */
export const PORTS_ENV = 'PARACORD_TEST_PORTS_DIR';
const reservedHere = new Set<number>();

function reserve(port: number): boolean {
  if (reservedHere.has(port)) return false;
  reservedHere.add(port);
  const dir = process.env[PORTS_ENV];
  if (!dir) return true;
  mkdirSync(dir, { recursive: true });
  try {
    writeFileSync(join(dir, String(port)), String(process.pid), { flag: 'wx' });
    return true;
  } catch {
    return false;
  }
}

function ephemeralLow(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 0;
  } catch {
    return 0;
  }
}

async function isFree(port: number): Promise<boolean> {
  try {
    await listenOnce(port);
    return true;
  } catch {
    return false;
  }
}

/** Listens on `port` (0: any) of 127.0.0.1, closes, and gives the port. */
async function listenOnce(port: number): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const taken = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return taken;
}
