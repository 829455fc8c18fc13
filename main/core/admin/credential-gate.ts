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
 */
export class CredentialGate {
  private held: NodeNotification[] | null = null;
  private again = false;
  private ended = false;
  private readonly check: () => Promise<void>;
  private readonly pass: (notification: NodeNotification) => void;
  private readonly onEnded: () => void;

  constructor(check: () => Promise<void>, pass: (notification: NodeNotification) => void, onEnded: () => void) {
    this.check = check;
    this.pass = pass;
    this.onEnded = onEnded;
  }

  /** A notification the stream's reader may see: passed on now, after the running check, or never once the credential ended. */
  offer(notification: NodeNotification): void {
    if (this.ended) return;
    if (this.held) this.held.push(notification);
    else this.pass(notification);
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
        this.ended = true;
        this.held = null;
        this.onEnded();
        return;
      }
    } while (this.again);
    const held = this.held ?? [];
    this.held = null;
    for (const notification of held) this.pass(notification);
  }
}
