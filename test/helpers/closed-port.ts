import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * A port on 127.0.0.1 where nothing listens, and where nothing will: it is taken below the
 * kernel's ephemeral range, which a listener on port 0 (every node and server of the tests) never
 * gets. A port from that range was free when chosen but could be given to the next node started
 * with port 0 (seen in CI: a home's "closed" address answered as the other home, pin_mismatch).
 * Where the range leaves no room below it, any free port, as before.
 */
export async function closedPort(): Promise<number> {
  const low = ephemeralLow();
  for (let attempt = 0; low > 11_024 && attempt < 50; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * (low - 11_024));
    if (await isFree(port)) return port;
  }
  return listenOnce(0);
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
