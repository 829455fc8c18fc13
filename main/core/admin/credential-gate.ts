import type { NodeNotification } from '../node-events.ts';

/**
 * Between the node's notifications and one live stream (the admin WebSocket, `GET /events`, a
 * member's stream): a `status` notification may announce that the stream's own credential ended
 * (its session signed out or revoked elsewhere, a member disabled), so the stream's credential is
 * checked again before that notification, or any after it, is passed on. A stream whose
 * credential ended gets nothing more: not the notification of its own end (a revoked page used to
 * get it, ask again and be refused 401), not a room's activity after it.
 *
 * The check is asynchronous in form; while it runs, notifications wait here in order. A `status`
 * during a check asks for one more check after it (the credential may have ended in between).
 *
 * A credential can also end by time, with no notification at all (a browser session's expiry):
 * `live`, when given, is asked before each notification is passed on (cheap, changes nothing),
 * and a stream whose credential it no longer finds gets nothing more either.
 */
export class CredentialGate {
  private held: NodeNotification[] | null = null;
  private again = false;
  private ended = false;
  private readonly check: () => Promise<void>;
  private readonly pass: (notification: NodeNotification) => void;
  private readonly onEnded: () => void;
  private readonly live: (() => boolean) | undefined;

  constructor(check: () => Promise<void>, pass: (notification: NodeNotification) => void, onEnded: () => void, live?: () => boolean) {
    this.check = check;
    this.pass = pass;
    this.onEnded = onEnded;
    this.live = live;
  }

  /** A notification the stream's reader may see: passed on now, after the running check, or never once the credential ended. */
  offer(notification: NodeNotification): void {
    if (this.ended) return;
    if (this.live && !this.live()) return this.end();
    if (this.held) this.held.push(notification);
    else this.pass(notification);
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.held = null;
    this.onEnded();
  }

  /** Checks the credential again before anything more is passed on. */
  recheck(): void {
    if (this.ended) return;
    if (this.held) {
      this.again = true;
      return;
    }
    this.held = [];
    void this.run();
  }

  private async run(): Promise<void> {
    do {
      this.again = false;
      try {
        await this.check();
      } catch {
        this.end();
        return;
      }
    } while (this.again);
    if (this.ended) return;
    const held = this.held ?? [];
    this.held = null;
    for (const notification of held) this.pass(notification);
  }
}
