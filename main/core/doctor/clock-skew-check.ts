/** The doctor's check of this machine's clock against the allowed peers' (doctor.ts), asked as the node asks them. */
import type Database from 'better-sqlite3';
import { homeAddressCheck } from '../federation/home-addresses.ts';
import { AddressPolicy } from '../federation/address-policy.ts';
import { HttpClient } from '../federation/http-client.ts';
import { KEYS_PATH } from '../federation/paths.ts';
import { Settings } from '../store/settings.ts';
import { TrustStore } from '../trust/trust-store.ts';
import { note, ok, problem, warning, type CheckResult } from './check-result.ts';

/** Requests and events are refused beyond ±60 s (docs/PROTOCOL.md §Request signatures, §Ordering); warn well before. */
const SKEW_PROBLEM_S = 60;
const SKEW_WARNING_S = 20;

export async function checkClockSkew(db: Database.Database | null, http: HttpClient | null, timeoutMs: number): Promise<CheckResult> {
  if (!db || !http) return note('clock_skew', 'No database yet: no peers to compare clocks with.');
  let peers: Array<{ server_name: string; endpoint: string }>;
  try {
    peers = db.prepare<[], { server_name: string; endpoint: string }>("SELECT server_name, endpoint FROM federation_servers WHERE trust = 'allow' AND endpoint IS NOT NULL ORDER BY last_seen_at DESC LIMIT 10").all();
  } catch {
    return note('clock_skew', 'Could not read the peers from the database.');
  }
  if (peers.length === 0) return ok('clock_skew', 'No peers yet to compare clocks with (events are refused beyond ±60 s, so keep NTP on).');
  const results = await Promise.all(
    peers.map(async (peer) => {
      const sent = Date.now();
      try {
        // Through the node's outbound address policy and certificate pins, as the node itself calls.
        const response = await http.send('GET', `${peer.endpoint.replace(/\/+$/, '')}${KEYS_PATH}`, {}, undefined, { timeoutMs, server: peer.server_name });
        const received = Date.now();
        const date = Date.parse(String(response.headers.date ?? ''));
        if (Number.isNaN(date)) return { peer: peer.server_name, skew: null, refused: null, failed: 'no Date header' };
        // The Date header has 1 s resolution: compare with the middle of the exchange, allow 1 s.
        const skew = (date - (sent + received) / 2) / 1000;
        return { peer: peer.server_name, skew: Math.abs(skew) <= 1 ? 0 : skew, refused: null, failed: null };
      } catch (error) {
        const message = (error as Error).message;
        return { peer: peer.server_name, skew: null, refused: /refusing to connect/.test(message) ? message : null, failed: message };
      }
    }),
  );
  const answered = results.filter((r): r is { peer: string; skew: number; refused: null; failed: null } => r.skew !== null);
  const refused = results.filter((r) => r.refused !== null);
  const refusedText = refused.length > 0 ? ` ${refused.length} not asked: the node's address policy refuses ${refused.map((r) => r.peer).slice(0, 3).join(', ')} (docs/SECURITY.md §8).` : '';
  const silent = results.find((r) => r.failed !== null && r.refused === null);
  if (answered.length === 0) return note('clock_skew', `None of ${peers.length} peers answered${silent ? ` (${silent.peer}: ${silent.failed})` : ''}: cannot compare clocks (keep NTP on: timedatectl set-ntp true).${refusedText}`);
  const worst = answered.reduce((a, b) => (Math.abs(b.skew) > Math.abs(a.skew) ? b : a));
  const text = `${worst.peer}'s clock differs by ${Math.round(worst.skew)} s`;
  if (Math.abs(worst.skew) > SKEW_PROBLEM_S) return problem('clock_skew', `${text}: events are refused beyond ±60 s; turn on time sync (timedatectl set-ntp true), or tell that peer.${refusedText}`);
  if (Math.abs(worst.skew) > SKEW_WARNING_S) return warning('clock_skew', `${text}: events are refused beyond ±60 s; check time sync here and there.${refusedText}`);
  return ok('clock_skew', `Clock within ${Math.max(1, Math.ceil(Math.abs(worst.skew)))} s of ${answered.length} peer(s).${refusedText}`);
}

/** The node's HTTP client for peers, over the read-only database: its address policy and pins. */
export function peerClient(db: Database.Database | null, insecureHttp: boolean, allowPrivateAddresses: boolean): HttpClient | null {
  if (!db) return null;
  try {
    const trust = new TrustStore(db, new Settings(db));
    const policy = new AddressPolicy({ insecureHttp, allowPrivateAddresses, endpointVouch: (origin) => trust.endpointVouch(origin), isHomeAddress: homeAddressCheck() });
    return new HttpClient({ allowInsecureHttp: insecureHttp, pinFor: (url, server) => trust.pinnedFingerprintFor(url, server), policy });
  } catch {
    return null;
  }
}
