/**
 * Sign-in failures, limited per account and per client address (issue #34): after too many in a
 * window, further attempts are refused without checking the passphrase, with the time to wait in
 * words ("too many attempts, try again in 12 minutes"). In memory: a restart forgets them, which
 * costs a guesser a restart of someone else's machine. Bounded (LRU): addresses are the caller's
 * to choose.
 *
 * An attempt from a device the member signed in from before (its `paracord_device` cookie:
 * member-store.ts) counts against that device instead of the account, with the same limit: a
 * stranger's wrong guesses fill the account's count, which then refuses strangers (the guesser
 * from many addresses), not the member's own phone (OWASP's "device cookies").
 */
import { LRUCache } from 'lru-cache';

export interface SignInLimits {
  perAccount: number;
  perAddress: number;
  windowMs: number;
  /** After a right confirmation of a member's passphrase (before adding a passkey), none for this long (default 10 s; tests set 0). */
  confirmGapMs?: number;
}

export const DEFAULT_SIGN_IN_LIMITS: SignInLimits = { perAccount: 5, perAddress: 20, windowMs: 15 * 60_000 };
/** A member confirms its passphrase (before adding a passkey) at most once in this long: each is an Argon2id run. */
export const PASSPHRASE_CONFIRM_GAP_MS = 10_000;

export type LimitAnswer = { ok: true } | { ok: false; retryAfterMs: number; message: string };

export class SignInLimiter {
  private readonly limits: SignInLimits;
  private readonly failures = new LRUCache<string, number[]>({ max: 20_000 });

  constructor(limits: SignInLimits = DEFAULT_SIGN_IN_LIMITS) {
    this.limits = limits;
  }

  /** How long after a right confirmation of a member's passphrase another waits (member-store.ts confirmPassphrase). */
  get confirmGapMs(): number {
    return this.limits.confirmGapMs ?? PASSPHRASE_CONFIRM_GAP_MS;
  }

  /**
   * Whether an attempt for `account` from `address` may be checked now. `device`: the attempt comes
   * from a device the member signed in from before (the hash of its device token): it is counted
   * there, not against the account.
   */
  check(account: string, address: string, now = Date.now(), device?: string): LimitAnswer {
    const byAccount = this.recent(accountKey(account, device), now);
    const byAddress = this.recent(`ip ${address}`, now);
    const full = [
      byAccount.length >= this.limits.perAccount ? byAccount[byAccount.length - this.limits.perAccount]! : null,
      byAddress.length >= this.limits.perAddress ? byAddress[byAddress.length - this.limits.perAddress]! : null,
    ].filter((t): t is number => t !== null);
    if (full.length === 0) return { ok: true };
    const retryAfterMs = Math.max(...full.map((oldest) => oldest + this.limits.windowMs - now));
    const minutes = Math.max(1, Math.ceil(retryAfterMs / 60_000));
    return { ok: false, retryAfterMs, message: `too many attempts, try again in ${minutes} ${minutes === 1 ? 'minute' : 'minutes'}` };
  }

  /**
   * Whether an attempt may be checked now (check) and, when it may, counts it at once as a failure
   * until `succeed` says otherwise. A check takes a while (an Argon2id hash): attempts sent together
   * that were counted only once they failed all passed the check before the first had failed (20
   * guesses at once were all checked against a limit of 3).
   */
  begin(account: string, address: string, now = Date.now(), device?: string): LimitAnswer {
    const answer = this.check(account, address, now, device);
    if (answer.ok) this.fail(account, address, now, device);
    return answer;
  }

  fail(account: string, address: string, now = Date.now(), device?: string): void {
    for (const key of [accountKey(account, device), `ip ${address}`]) this.failures.set(key, [...this.recent(key, now), now]);
  }

  /**
   * The attempt begun at `startedAt` succeeded: the failures it was counted with are cleared (the
   * account's, or its device's: the account's count stays strangers' own), and that attempt no
   * longer counts for the address (the address's other failures stay: it may be guessing others).
   */
  succeed(account: string, address: string, startedAt: number, device?: string): void {
    this.failures.delete(accountKey(account, device));
    const key = `ip ${address}`;
    const times = this.failures.get(key);
    const at = times?.lastIndexOf(startedAt) ?? -1;
    if (times && at >= 0) this.failures.set(key, times.filter((_, i) => i !== at));
  }

  private recent(key: string, now: number): number[] {
    return (this.failures.get(key) ?? []).filter((t) => t > now - this.limits.windowMs);
  }
}

/** Where an attempt's account-side failures count: its member's known device, else the account. */
const accountKey = (account: string, device: string | undefined) => (device === undefined ? `a ${account}` : `d ${device}`);
