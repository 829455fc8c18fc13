/**
 * The node's housekeeping: a periodic cleanup (replay cache, expired mailbox items and outbox
 * entries, old delivery attempts, the oldest notes of holds beyond their bound, clients'
 * transaction ids), and quarantines that lapse by themselves (trust/quarantine-lapses.ts) with
 * the release of what they held (trust/lapse-releases.ts). Started once the node listens;
 * stopped first.
 */
import { DEFAULT_MAX_AGE_MS } from '../outbox/delivery-worker.ts';
import { LapseReleases, LAPSE_REASON } from '../trust/lapse-releases.ts';
import { QuarantineLapses } from '../trust/quarantine-lapses.ts';
import type { Services } from './services.ts';
import { warnLimited } from '../log/rate-limit.ts';

const CLEANUP_EVERY_MS = 60_000;
/** Delivery attempts are kept a week, and at most this many. */
const ATTEMPTS_KEPT_MS = 7 * 24 * 3600_000;
const ATTEMPTS_KEPT = 200_000;
/** Notes of our events a friend held for review (outbox/held-there.ts): at most this many, the newest. */
export const HELD_NOTES_KEPT = 200_000;

export class Housekeeping {
  private readonly s: Services;
  private timer: NodeJS.Timeout | null = null;
  private readonly lapses: QuarantineLapses;
  private readonly releases: LapseReleases;

  constructor(s: Services) {
    this.s = s;
    const { trust, log, notifications } = s;
    // Quarantines with an end time lapse by themselves; what they held is then released, and
    // released again later while a release keeps some (lapse-releases.ts).
    this.releases = new LapseReleases({ trust, quarantine: s.quarantine, ingest: s.ingest, log, afterTry: (server) => s.workers.deliver(server) });
    this.lapses = new QuarantineLapses(trust, (server) => {
      // Under the allowlist, a server the owner never added goes back to being a stranger, not an
      // allowed peer: it became one, its requests taken and it callable (a review, 2026-11-30).
      // The owner's peers have an address (given, discovered or from a link) or a key the owner
      // pinned; a stranger has neither (its keys fetched while its requests were taken in
      // quarantine do not make it one: a later review). What it held stays held for the owner.
      const row = trust.get(server);
      const stranger = trust.defaultPolicy !== 'open' && row !== undefined && row.endpoint === null && !s.keys.list(server).some((key) => key.source === 'pinned');
      if (stranger) trust.forget(server);
      else trust.upsert(server, { trust: 'allow', reason: LAPSE_REASON, until_ms: null });
      log.info({ event: 'quarantine_ended', server, ...(stranger ? { stranger: true } : {}) }, 'quarantine ended');
      if (!stranger) this.releases.lapsed(server);
      notifications.notify({ type: 'status' });
    }, (server, error) => warnLimited(log, 'quarantine_lapse_failed', { event: 'quarantine_lapse_failed', server, err: error }, 'ending a quarantine at its end time failed; tried again in 30 s'));
    s.bus.on('quarantineChanged', () => this.lapses.changed());
  }

  start(): void {
    // At least four looks per outbox age (a node set to give up after seconds, as tests and a
    // hurried owner do, expires its entries on time, not a minute late).
    const maxAge = this.s.config.outboxMaxAgeMs ?? DEFAULT_MAX_AGE_MS;
    this.timer = setInterval(() => this.cleanUp(), Math.min(CLEANUP_EVERY_MS, Math.max(1_000, Math.floor(maxAge / 4))));
    this.timer.unref();
    this.lapses.start();
    // Releases after an end that kept events, cut short by a stop (a full disk is often answered
    // with a restart): taken up again now.
    this.releases.resume();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.lapses.stop();
    this.releases.stop();
  }

  private cleanUp(): void {
    const { replay, mailboxes, notifications, outbox, config, log, state } = this.s;
    try {
      replay.prune();
      if (mailboxes.expire() > 0) notifications.notify({ type: 'status', scope: 'queue' });
      const expired = outbox.expireOlderThan(config.outboxMaxAgeMs ?? DEFAULT_MAX_AGE_MS);
      if (expired.count > 0) {
        log.warn({ event: 'delivery_expired', count: expired.count }, 'undelivered entries expired');
        // An expired entry may have been the head its destination waits on: that wait ends.
        for (const destination of expired.destinations) this.s.workers.deliver(destination);
      }
      outbox.pruneAttempts(ATTEMPTS_KEPT_MS, ATTEMPTS_KEPT);
      this.s.heldThere.prune(HELD_NOTES_KEPT);
      state.running?.rooms.clientTxns.forget(Date.now());
    } catch (error) {
      log.warn({ event: 'housekeeping_failed', error: (error as Error).message }, 'periodic cleanup failed');
    }
  }
}
