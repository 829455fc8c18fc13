import type { AdminHandlers, PeerDelivery, PeerView } from '../../../../../shared/contract/admin-operations.ts';
import { HttpError, badRequest, conflict, notFound } from '../../../errors.ts';
import { FederationRequestError, joinUrl } from '../../../federation/http-client.ts';
import { peerUnreachable, unreachableReason } from '../../../federation/unreachable.ts';
import { checkKeysDocument, type RemoteKeysDocument } from '../../../federation/keys-document.ts';
import type { DiscoveryDocument } from '../../../federation/discovery.ts';
import type { ProvenAlias } from '../../../federation/name-claims.ts';
import { checkReferenceKeys, unsignedKeysTrust } from '../../../federation/reference/keys.ts';
import { REFERENCE_PROTOCOL_VERSION, REFERENCE_V2 } from '../../../federation/reference/dialect.ts';
import type { NodeContext } from '../../../node-context.ts';
import type { Running } from '../../../node/federation.ts';
import type { FederationServer } from '../../../trust/trust-store.ts';
import { KEYS_PATH } from '../../../federation/paths.ts';

export function peerView(node: NodeContext, server: FederationServer): PeerView {
  return {
    server_name: server.server_name,
    trust: server.trust,
    endpoint: server.endpoint,
    tls_fingerprint: server.tls_fingerprint,
    reason: server.reason,
    until_ms: server.until_ms,
    rate_limit: server.rate_per_second !== null && server.rate_burst !== null ? { per_second: server.rate_per_second, burst: server.rate_burst } : null,
    added_at: server.added_at,
    last_seen_at: server.last_seen_at,
    keys: node.keys.list(server.server_name).map((k) => ({ key_id: k.key_id, public_key: k.public_key, source: k.source, expired_at: k.expired_at })),
    replaced_keys: node.keys.replaced.list(server.server_name),
    key_change: keyChangeView(node, server.server_name),
    quota: node.quota.view(server.server_name),
    delivery: deliveryView(node, server.server_name),
    refuses_us: node.outbox.refusesUs(server.server_name),
    holds_ours_for_review: node.outbox.holdsOursForReview(server.server_name),
    // A trust decision about a server never peered (`trust nobody.test block`): no keys of its own, no address.
    ...(server.endpoint === null && node.keys.list(server.server_name).length === 0 ? { never_peered: true as const } : {}),
    dialect: node.dialects.get(server.server_name)?.dialect ?? null,
    reference_version: node.dialects.referenceVersion(server.server_name),
  };
}

function keyChangeView(node: NodeContext, server: string): PeerView['key_change'] {
  const pending = node.keys.replaced.pending(server);
  return pending ? { key_id: pending.key_id, public_key: pending.public_key, seen_at: pending.seen_at, reason: pending.reason } : null;
}

/**
 * Push, or "waiting to be pulled" (issue #15), and what waits for it: all the UI words about a
 * peer's delivery (renderer/src/lib/peer-state.ts), so it need not read the outbox itself.
 */
function deliveryView(node: NodeContext, server: string): PeerDelivery {
  const status = node.workers.status(server);
  const waiting = node.outbox.pendingSummary(server);
  return {
    mode: status.waiting_to_be_pulled ? 'pull' : 'push',
    last_pull_at: status.last_pull_at,
    waiting: waiting.waiting,
    waiting_messages: node.outbox.waitingMessages(server, waiting.waiting),
    paced: status.paced,
    retrying_since: waiting.retrying_since,
    next_attempt_at: waiting.next_attempt_at,
    last_error: waiting.last_error,
    via_mailbox: status.via_mailbox,
  };
}

export function peerOperations(node: NodeContext, running: Running): Pick<AdminHandlers, 'listPeers' | 'addPeer' | 'setPeerTrust' | 'forgetPeerTrust'> {
  return {
    listPeers: async (input) => {
      const pending = running.peering.pendingPeerings();
      const peers = node.trust.list().map((s) => ({ ...peerView(node, s), liveness: running.liveness.view(s.server_name) }));
      // A friend we push to with nothing waiting says nothing of itself: while the owner looks
      // (the Dashboard or Peers screen asks with check_liveness), its node is asked whether it
      // still answers (peering/liveness.ts). Deliveries speak for the others.
      if (input.check_liveness === '1') {
        running.liveness.checkStale(
          peers
            .filter((p) => p.trust === 'allow' && p.delivery?.mode === 'push' && !p.delivery.via_mailbox && p.delivery.waiting === 0 && p.dialect !== 'reference')
            .map((p) => ({ server: p.server_name, lastSeenAt: p.last_seen_at })),
        );
      }
      return { peers, ...(pending.length > 0 ? { pending } : {}) };
    },

    addPeer: async (input) => {
      const self = node.identity()?.serverName;
      if (input.server_name !== undefined && input.server_name === self) throw badRequest('invalid_input', 'a server cannot peer with itself');
      // The endpoint arrives reduced to its origin by the contract's schema (shared/endpoint.ts: a
      // base URL, a federation URL or any link on the server); checkEndpoint adds the
      // --insecure-http rule. An endpoint the owner types is vouched for ("owner"): it may be a LAN
      // or loopback address — the addresses it resolves to now are stored with it, and later
      // connections may go to those only (address-policy.ts); one learnt from discovery is not.
      if (input.endpoint) {
        try {
          node.http.checkEndpoint(input.endpoint);
        } catch (error) {
          throw badRequest('invalid_input', `endpoint: ${(error as Error).message}`);
        }
      }
      const confirmed = input.key_id && input.public_key ? { key_id: input.key_id, public_key: input.public_key } : undefined;
      // Contact the peer first, store afterwards: a failure changes nothing.
      let fetched: RemoteKeysDocument | undefined;
      let rawKeys: unknown;
      let endpoint = input.endpoint ?? null;
      let serverName = input.server_name;
      let discovered: DiscoveryDocument | undefined;
      let alias: ProvenAlias | null = null;
      if (serverName !== undefined) node.claims.refuseTakenName(serverName);
      const vouch = input.endpoint ? 'owner' : 'none';
      try {
        discovered = await node.discovery.fetchDocument(input.endpoint ?? `https://${input.server_name}`, {
          vouch, ...(input.tls_fingerprint ? { pin: input.tls_fingerprint } : {}), ...(serverName !== undefined ? { server: serverName } : {}),
        });
      } catch (error) {
        // With the key given (pinned by the owner), a peer that is down can still be added.
        // 502: it could not be reached, or answered something we cannot accept (`reason`).
        const named = serverName ?? input.endpoint!;
        if (!confirmed || !serverName) throw peerUnreachable(named, unreachableReason(error), `could not add ${named}: ${(error as Error).message}`);
      }
      if (discovered && input.reference_version !== undefined && discovered.dialect !== 'reference') {
        throw badRequest('invalid_input', `${discovered.server_name} is not a Paracord reference server (its discovery lists our protocol's capabilities): add it without reference_version`);
      }
      if (discovered) {
        try {
          if (serverName !== undefined && discovered.server_name !== serverName) {
            throw new Error(`the server there calls itself ${discovered.server_name}, not ${serverName}`);
          }
          serverName = discovered.server_name;
          refuseUnusableName(serverName, self);
          node.claims.refuseTakenName(serverName);
          endpoint = input.endpoint ?? discovered.federation_endpoint;
          if (!confirmed || discovered.dialect === 'reference') {
            const response = await node.http.send('GET', joinUrl(endpoint, KEYS_PATH), { accept: 'application/json' }, undefined, { vouch, server: serverName, ...(input.tls_fingerprint ? { pin: input.tls_fingerprint } : {}) });
            if (response.status !== 200) throw new Error(`keys endpoint answered HTTP ${response.status}`);
            rawKeys = response.json;
            fetched = readPeerKeys(discovered, endpoint, rawKeys, serverName, confirmed);
          }
          // A reference's ids use its `domain`: bound only when that name proves it is this server
          // (once: an alias already bound to this very server, and still honoured, is kept).
          if (discovered.dialect === 'reference' && discovered.domain !== serverName && fetched) {
            alias = node.dialects.domainOf(serverName) === discovered.domain
              ? node.claims.keptAlias(serverName, discovered.domain)
              : await node.claims.proveAlias(serverName, discovered.domain, fetched.active_key, input.tls_fingerprint);
          }
        } catch (error) {
          if (error instanceof HttpError) throw error;
          // What it answered is checked here: a failure that is not the network's is its answer.
          const reason = unreachableReason(error);
          throw peerUnreachable(serverName ?? discovered.server_name, reason === 'other' && !(error instanceof FederationRequestError) ? 'bad_answer' : reason, `could not add ${serverName}: ${(error as Error).message}`);
        }
      }
      const name = serverName!;
      // An existing peer's endpoint, certificate or key changes only when the owner confirms it.
      const change = peerChange(node, name, endpoint, input, confirmed, fetched);
      if (change !== null && input.replace !== true) {
        throw conflict(
          'already_peer',
          `${name} is already a peer of this server, and this would change ${change}. If that is really its admin's change, ` +
            'add it again confirming the change ("replace": true; `paracord-node peer add --replace`): nothing was changed',
        );
      }
      const vouched = input.endpoint ? await node.http.vouchableAddresses(input.endpoint) : [];
      const server = node.db.transaction(() => {
        const row = node.trust.upsert(name, {
          trust: 'allow',
          endpoint,
          ...(endpoint ? { endpoint_source: input.endpoint ? ('owner' as const) : ('discovery' as const), endpoint_addresses: vouched } : {}),
          ...(input.tls_fingerprint ? { tls_fingerprint: input.tls_fingerprint } : {}),
          reason: null,
          until_ms: null,
        });
        // A key id is never re-bound (409 key_id_bound), except a reference peer's new key the owner
        // confirms or that was read over https (reference/key-replacement.ts).
        const referenceReplacement = discovered ? discovered.dialect === 'reference' : input.reference_version !== undefined;
        if (confirmed) node.keys.pin(name, confirmed.key_id, confirmed.public_key, Date.now(), { referenceReplacement });
        // A reference's keys[0] (what it signs with) is pinned: it was read over an authenticated channel.
        if (fetched && referenceReplacement) node.keys.pin(name, fetched.active_key.key_id, fetched.active_key.public_key, Date.now(), { referenceReplacement });
        // Read at the address we know it by, or a change the owner confirmed: it may expire keys.
        if (fetched) node.keys.store(fetched, Date.now(), rawKeys, { rotation: true });
        // The owner's word on a reference's version wins over its discovery; with discovery off, it is all we have.
        const version = input.reference_version !== undefined ? (input.reference_version === '3' ? REFERENCE_V2 : REFERENCE_PROTOCOL_VERSION) : discovered?.version ?? null;
        if (discovered) node.claims.bindDialect(name, discovered.dialect, alias, version);
        else if (input.reference_version !== undefined) node.claims.bindDialect(name, 'reference', null, version);
        if (discovered) node.discovery.noteBinding(name, discovered);
        return row;
      })();
      node.discovery.forget(name);
      // What a check found at its old address or under its old trust is no longer true.
      running.liveness.forget(name);
      // An endpoint the owner typed is the owner's word: pushed to again even if never reached (issue #32),
      // and a backoff earned at the old address ends (as when the peer talks to us).
      if (input.endpoint) {
        node.pull.markReached(name);
        node.outbox.wake(name);
      }
      // Its dialect or pacing may have changed too: a wait decided on the old ones ends.
      node.workers.deliver(name);
      // So does a reference peer's poll wait (pages refused under a key the owner now confirmed).
      running.referencePoller.resume(name);
      node.log.info({ event: 'peer_added', server: name, endpoint, pinned: confirmed !== undefined, dialect: discovered?.dialect ?? 'unknown' }, 'peer added');
      node.notifications.notify({ type: 'status' });
      return peerView(node, server);
    },

    forgetPeerTrust: async ({ server_name }) => {
      const server = node.trust.get(server_name);
      if (!server) throw notFound('unknown_peer', `${server_name} is not a peer`);
      // A peer (keys, an address) is not forgotten by this: its trust is set instead (PUT …/trust).
      if (server.endpoint !== null || node.keys.list(server_name).length > 0) {
        throw conflict('is_peer', `${server_name} is a peer (its keys or address are kept here): set its trust instead`);
      }
      node.trust.forget(server_name);
      node.log.info({ event: 'trust_forgotten', server: server_name, mode: server.trust }, 'trust decision forgotten');
      running.liveness.forget(server_name);
      node.notifications.notify({ type: 'status' });
      return { server_name, forgotten: true as const };
    },
    setPeerTrust: async (input) => {
      const server = node.trust.upsert(input.server_name, {
        trust: input.mode,
        reason: input.reason ?? null,
        until_ms: input.until_ms ?? null,
        ...(input.rate_limit ? { rate_per_second: input.rate_limit.per_second, rate_burst: input.rate_limit.burst } : {}),
        ...(input.rate_limit === null ? { rate_per_second: null, rate_burst: null } : {}),
      });
      node.log.info({ event: 'trust_changed', server: input.server_name, mode: input.mode, reason: input.reason }, 'peer trust changed');
      running.liveness.forget(input.server_name);
      // Outbound to a server that is no longer quarantined or blocked resumes, and a fetch of it
      // waiting here (pull, our mailbox) is answered at once with what waited for it.
      if (input.mode === 'allow') {
        node.workers.deliver(input.server_name);
        node.pull.notify(input.server_name);
        node.mailbox.store.notify(input.server_name);
      }
      node.notifications.notify({ type: 'status' });
      return peerView(node, server);
    },
  };
}

/**
 * The keys of a server being added: our self-signed document, or (a reference peer) its
 * unsigned one, believed only over an authenticated transport or when the owner confirmed the
 * key (reference/keys.ts). A refusal says why, in words the UI shows.
 */
function readPeerKeys(discovered: DiscoveryDocument, endpoint: string, raw: unknown, serverName: string, confirmed?: { key_id: string; public_key: string }): RemoteKeysDocument {
  if (discovered.dialect === 'node') {
    const check = checkKeysDocument(raw, serverName);
    if (!check.ok) throw new Error(check.reason);
    return check.document;
  }
  const check = checkReferenceKeys(raw, serverName);
  if (!check.ok) throw new Error(check.reason);
  const trust = unsignedKeysTrust(endpoint, check.document, confirmed);
  if (!trust.trusted) throw new HttpError(400, 'unauthenticated_keys', `could not add ${serverName}: ${trust.reason}`);
  return trust.document;
}

/**
 * What adding `name` again would change of a peer we already hold keys of: its endpoint (typed
 * by the owner, or stored and now another), its pinned certificate, or a key we do not hold as
 * current (except a reference's key change waiting for the owner). Null when nothing changes.
 */
function peerChange(
  node: NodeContext, name: string, endpoint: string | null,
  input: { endpoint?: string | undefined; tls_fingerprint?: string | undefined }, confirmed: { key_id: string; public_key: string } | undefined,
  fetched: RemoteKeysDocument | undefined,
): string | null {
  if (!node.keys.hasDirectKeys(name)) return null;
  const stored = node.trust.get(name);
  const isCurrent = (keyId: string, publicKey: string) => {
    const held = node.keys.get(name, keyId);
    return held?.public_key === publicKey && held.expired_at === null;
  };
  if (input.tls_fingerprint !== undefined && input.tls_fingerprint !== (stored?.tls_fingerprint ?? null)) return 'its pinned certificate';
  if (confirmed && !isCurrent(confirmed.key_id, confirmed.public_key) && node.keys.replaced.pending(name)?.public_key !== confirmed.public_key) {
    return `its key (${confirmed.key_id})`;
  }
  // The same server at a new address (it moved, or restarted on another port) is the owner's
  // word alone: the identity there is the one we hold, named by the owner (the key given is
  // current) or served there (its keys list a current key of ours as current, none expired).
  // Anything else at a new address is a change of identity.
  const storedEndpoint = stored?.endpoint ?? null;
  if (endpoint !== null && endpoint !== storedEndpoint && (input.endpoint !== undefined || storedEndpoint !== null)) {
    const sameByOwner = confirmed !== undefined;
    const sameServed = fetched !== undefined && [fetched.active_key, ...fetched.next_keys].some((k) => isCurrent(k.key_id, k.public_key)) &&
      !fetched.old_keys.some((k) => isCurrent(k.key_id, k.public_key));
    if (!sameByOwner && !sameServed) return `its endpoint (${storedEndpoint ?? `https://${name}`} to ${endpoint}) and the keys served there are not the ones held`;
  }
  return null;
}

/** The reference's default server_name is "localhost" (crates/paracord-server/src/config.rs:485-487): not a name two servers can share. */
function refuseUnusableName(serverName: string, self: string | undefined): void {
  if (serverName === self) throw badRequest('invalid_input', 'that address is this server itself');
  if (serverName === 'localhost' || serverName.startsWith('localhost:')) {
    throw badRequest('unusable_server_name', 'that server calls itself "localhost" (the Paracord default): ask its admin to set server_name to its real host name first');
  }
}
