/**
 * Who each server name is bound to here, and the one check every binding of a name to a peer
 * goes through (docs/SECURITY.md "A holder of one invite link" and "A peer that claims names"):
 * - this server's own name is never bound to a peer;
 * - a name belongs to one server only: a peer's own name (a trust row, or keys we hold of it
 *   directly) or a reference peer's proven `domain` alias, never both and never two servers;
 * - an invite link (redeemed either way) may name an existing peer only with a key that peer has
 *   proven its own: one we hold for it, or one its own keys document lists at the address we
 *   reach it by (its own signed rotation). Otherwise 409 `already_peer`, nothing changed;
 * - a server we know only indirectly (keys relayed by a host, members of our rooms, storage
 *   charged to it) is not a free name either: a link may name it only with a key every relaying host
 *   agrees on, or one it proves itself at `https://<name>`;
 * - a reference's `domain` alias is bound only once proven: that name's own discovery, read over
 *   https (CA-valid, or the certificate the owner pinned for the peer), names the same server, and
 *   the keys it points to list the key we pin for it.
 */
import { conflict, badRequest } from '../errors.ts';
import { cleanText } from '../util/untrusted-text.ts';
import { LRUCache } from 'lru-cache';
import type { Db } from '../store/database.ts';
import type { TrustStore } from '../trust/trust-store.ts';
import type { Discovery } from './discovery.ts';
import { joinUrl, type HttpClient } from './http-client.ts';
import { checkKeysDocument } from './keys-document.ts';
import { CertificatePinError } from './pinned-tls.ts';
import type { PeerDialect } from './reference/dialect.ts';
import { checkReferenceKeys } from './reference/keys.ts';
import type { PeerDialects } from './reference/peer-dialects.ts';
import type { ServerKeys } from './keys/server-keys.ts';
import { KEYS_PATH, WELL_KNOWN_PATH } from './paths.ts';

/** `known`: a server we are not peered with but know of (relayed keys, room members, stored events). */
export type NameHolder = { kind: 'self' } | { kind: 'peer'; server: string } | { kind: 'alias'; server: string } | { kind: 'known'; server: string };

declare const proven: unique symbol;
/** A reference's `domain` alias that NameClaims.proveAlias checked; nothing else makes one. */
export type ProvenAlias = { readonly server: string; readonly domain: string; readonly [proven]: true };

/** Each request of an alias proof waits at most this long. */
const PROOF_DEADLINE_MS = 10_000;
/** A peering makes us fetch a name's keys past the usual rate limit at most this many times per minute per name. */
const FORCED_REFRESHES_PER_MINUTE = 3;

export interface NameClaimsDeps {
  /** This server's name (undefined in setup mode). */
  self: () => string | undefined;
  db: Db;
  trust: TrustStore;
  keys: ServerKeys;
  dialects: PeerDialects;
  discovery: Discovery;
  http: HttpClient;
}

export class NameClaims {
  private readonly d: NameClaimsDeps;
  /** When peerings last made us fetch a name's keys past the rate limit (per name). */
  private readonly forcedRefresh = new LRUCache<string, number[]>({ max: 2_000 });

  constructor(deps: NameClaimsDeps) {
    this.d = deps;
  }

  /** Who holds `name` here: this server, a peer of that name, the reference whose alias it is, or a server we know of. */
  holder(name: string): NameHolder | null {
    if (name === this.d.self()) return { kind: 'self' };
    if (this.d.trust.get(name) !== undefined || this.d.keys.hasDirectKeys(name)) return { kind: 'peer', server: name };
    const aliasOf = this.d.dialects.aliasHolders(name)[0];
    if (aliasOf !== undefined) return { kind: 'alias', server: aliasOf };
    return this.knownByKeys(name) || this.knownByData(name) ? { kind: 'known', server: name } : null;
  }

  /**
   * PeerDialects.refusesAlias: a stored alias is not honoured when it is our own name, a peer's
   * (trust row, direct keys) or a server whose keys a host relayed. Members and events under the
   * alias are the reference's own (its ids use it): not counted.
   */
  refusesAlias(domain: string, server: string): boolean {
    if (domain === server) return false;
    return domain === this.d.self() || this.d.trust.get(domain) !== undefined || this.d.keys.hasDirectKeys(domain) || this.knownByKeys(domain);
  }

  /** Keys of `name` a relaying host served, or a host made us look its keys up. */
  private knownByKeys(name: string): boolean {
    return this.d.keys.knownThroughRelays(name);
  }

  /** Members of our rooms on `name` (or whose membership it signed), storage charged to it (rare paths only: no index by server). */
  private knownByData(name: string): boolean {
    return this.d.db
      .prepare<[string, string, string], { one: number }>(
        `SELECT 1 AS one WHERE EXISTS (SELECT 1 FROM room_members WHERE server_name = ? OR event_origin = ?)
           OR EXISTS (SELECT 1 FROM peer_storage WHERE server_name = ?)`,
      )
      .get(name, name, name) !== undefined;
  }

  /** Refuses `name` as a peer's own name when it is ours or another peer's alias (409 `name_taken`). */
  refuseTakenName(name: string): void {
    const holder = this.holder(name);
    if (holder?.kind === 'self') throw conflict('name_taken', `${name} is this server's own name; no peer can use it`);
    if (holder?.kind === 'alias') throw conflict('name_taken', `${name} is the domain of ${holder.server}, a peer of this server; no other server can use it`);
  }

  /**
   * A peering (an invite link, redeemed by us or by a friend) that names `name` with key
   * (`keyId`, `publicKey`): 'new' for a free name, 'existing' for a peer whose key this is. An
   * existing peer's key id we know nothing of is looked for in its own keys document, fetched from
   * the address we know it by: its own rotation. Throws 409 otherwise.
   */
  async checkPeering(name: string, keyId: string, publicKey: string): Promise<'new' | 'existing'> {
    this.refuseTakenName(name);
    // A key id already bound (to this key or another) needs no fetch: it is never re-bound. A
    // server known only indirectly proves a key at https://<name> (the discovery of its own name).
    const holder = this.holder(name);
    if (holder !== null && this.d.keys.get(name, keyId) === undefined && !(holder.kind === 'known' && this.relayedAgree(name, keyId, publicKey))) {
      const now = Date.now();
      const recent = (this.forcedRefresh.get(name) ?? []).filter((at) => now - at < 60_000);
      if (recent.length < FORCED_REFRESHES_PER_MINUTE) {
        this.forcedRefresh.set(name, [...recent, now]);
        await this.d.keys.refresh(name, now, PROOF_DEADLINE_MS, { unlimited: true }).catch(() => undefined);
      }
    }
    return this.checkPeeringNow(name, keyId, publicKey);
  }

  /** `checkPeering` without the network, in the transaction that writes (a race changes nothing). */
  checkPeeringNow(name: string, keyId: string, publicKey: string): 'new' | 'existing' {
    this.refuseTakenName(name);
    const holder = this.holder(name);
    if (holder === null) return 'new';
    if (holder.kind === 'known') {
      if (this.relayedAgree(name, keyId, publicKey)) return 'new';
      throw conflict(
        'already_peer',
        `${name} is a server known here (through a peer's rooms), and key ${keyId} (${publicKey.slice(0, 16)}…) is not one of its keys here, nor one it serves at https://${name}. ` +
          'Ask its admin to serve its discovery at that address, or to send the link from there: nothing was changed',
      );
    }
    if (this.holdsKey(name, keyId, publicKey)) return 'existing';
    throw conflict(
      'already_peer',
      `${name} is already a peer of this server, and key ${keyId} (${publicKey.slice(0, 16)}…) is not one of its keys here. ` +
        'A peer\'s key changes only through its own key rotation (its own keys document then lists the new key), never through an invite link: nothing was changed',
    );
  }

  /** Whether every host that relayed keys of `name` lists (`keyId`, `publicKey`) as a current key of it. */
  private relayedAgree(name: string, keyId: string, publicKey: string): boolean {
    const relayed = this.d.keys.relayedKeysOf(name);
    const hosts = new Set(relayed.map((k) => k.relayed_by));
    if (hosts.size === 0) return false;
    const agreeing = new Set(relayed.filter((k) => k.key_id === keyId && k.public_key === publicKey && k.expired_at === null).map((k) => k.relayed_by));
    return agreeing.size === hosts.size && !relayed.some((k) => k.key_id === keyId && k.public_key !== publicKey);
  }

  /**
   * Whether `name` is an allowed peer here as a link of it names it: its current key, held
   * directly, is (`keyId`, `publicKey`), at that endpoint with that certificate pin. Redeeming such
   * a link would change nothing here (one with a new address or certificate would: not this).
   */
  isPeerAsLinked(name: string, link: { keyId: string; publicKey: string; endpoint: string; tlsFingerprint: string | null }): boolean {
    const peer = this.d.trust.get(name);
    return peer?.trust === 'allow' && peer.endpoint === link.endpoint && (peer.tls_fingerprint ?? null) === link.tlsFingerprint && this.holdsKey(name, link.keyId, link.publicKey);
  }

  /** Whether (`keyId`, `publicKey`) is a current key of `name` that we hold directly. */
  private holdsKey(name: string, keyId: string, publicKey: string): boolean {
    const key = this.d.keys.get(name, keyId);
    return key !== undefined && key.public_key === publicKey && key.expired_at === null;
  }

  /**
   * Proves that `domain` is an alias of the reference `server`: free here, and `https://<domain>`
   * serves a discovery naming `server` whose keys list `key`. `pin`: the certificate the owner
   * pinned for the peer (tried first; then CA validation). Throws 409 `name_taken` or 400
   * `unproven_domain`, with the reason.
   */
  async proveAlias(server: string, domain: string, key: { key_id: string; public_key: string }, pin?: string): Promise<ProvenAlias> {
    this.refuseTakenAlias(server, domain);
    const base = `https://${domain}`;
    let reason = '';
    for (const attempt of pin ? [pin, undefined] : [undefined]) {
      try {
        // The domain is the peer's word: vouch "peering" (address-policy.ts), as for a link's endpoint.
        const discovered = await this.d.discovery.fetchDocument(base, { ...(attempt ? { pin: attempt } : {}), signal: AbortSignal.timeout(PROOF_DEADLINE_MS), vouch: 'peering', server });
        if (discovered.server_name !== server) throw new Error(`the server at ${base} is ${discovered.server_name}, not ${server}`);
        const response = await this.d.http.send('GET', joinUrl(discovered.federation_endpoint, KEYS_PATH), { accept: 'application/json' }, undefined, {
          vouch: 'peering', signal: AbortSignal.timeout(PROOF_DEADLINE_MS), server, ...(attempt ? { pin: attempt } : {}),
        });
        if (response.status !== 200) throw new Error(`its keys answered HTTP ${response.status}`);
        const listed = servedKeys(discovered.dialect, response.json, server);
        if (!listed.some((k) => k.key_id === key.key_id && k.public_key === key.public_key)) throw new Error(`it does not serve ${server}'s key ${key.key_id}`);
        return { server, domain } as ProvenAlias;
      } catch (error) {
        reason = cleanText((error as Error).message, 300);
        // Only another certificate is worth a second try (CA validation); anything else fails alike.
        if (!causedByPin(error)) break;
      }
    }
    throw badRequest(
      'unproven_domain',
      `${server} names its ids with the domain ${domain}, which it does not prove its own (${reason}). ` +
        `Ask its admin to serve its discovery at https://${domain}${WELL_KNOWN_PATH}, or to set its domain to ${server}`,
    );
  }

  /** The alias already bound to `server` and honoured (PeerDialects.domainOf), kept without a new proof. */
  keptAlias(server: string, domain: string): ProvenAlias {
    if (this.d.dialects.domainOf(server) !== domain) throw new Error(`${domain} is not the alias bound to ${server}`);
    return { server, domain } as ProvenAlias;
  }

  /** Refuses `domain` as `server`'s alias when another server holds it (409 `name_taken`). */
  private refuseTakenAlias(server: string, domain: string): void {
    const holder = this.holder(domain);
    if (holder?.kind === 'self') throw conflict('name_taken', `${server} names its ids with the domain ${domain}, this server's own name: refused, nothing stored`);
    if (holder && holder.server !== server) {
      const whose = holder.kind === 'alias' ? `the domain of ${holder.server}, a peer of this server` : 'the name of a server known here';
      throw conflict('name_taken', `${server} names its ids with the domain ${domain}, ${whose}: refused, nothing stored`);
    }
  }

  /** Records a peer's dialect and its id suffix, in the caller's transaction: the alias checked again. */
  bindDialect(server: string, dialect: PeerDialect, alias: ProvenAlias | null, version: string | null): void {
    if (alias !== null) this.refuseTakenAlias(server, alias.domain);
    this.d.dialects.set(server, dialect, alias, version);
  }
}

/** The keys a keys document of either dialect lists as current. */
function servedKeys(dialect: PeerDialect, raw: unknown, server: string): Array<{ key_id: string; public_key: string }> {
  const check = dialect === 'node' ? checkKeysDocument(raw, server) : checkReferenceKeys(raw, server);
  if (!check.ok) throw new Error(check.reason);
  return [check.document.active_key, ...check.document.next_keys];
}

function causedByPin(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof CertificatePinError) return true;
  }
  return false;
}
