import Router from '../../../http/router.ts';
import { PROTOCOL_VERSION, type ServedDiscoveryDocument } from '../../discovery.ts';
import type { FederationDeps } from '../../federation-deps.ts';
import { WELL_KNOWN_PATH } from '../../paths.ts';

/** GET /.well-known/paracord/server — discovery, unsigned and public. */
export function wellKnownRoutes(deps: FederationDeps): Router {
  const router = new Router();
  router.get(WELL_KNOWN_PATH, (ctx) => {
    // Parses as the reference's ServerInfo (server_name, domain, federation_endpoint, enabled,
    // version: crates/paracord-federation/src/protocol.rs:53-60); capabilities are our extra.
    const document: ServedDiscoveryDocument = {
      server_name: deps.identity.serverName,
      domain: deps.identity.serverName,
      federation_endpoint: deps.publicUrl(),
      enabled: !deps.isPaused(),
      version: PROTOCOL_VERSION,
      capabilities: [...deps.capabilities, ...(deps.extraCapabilities?.() ?? [])],
      // Every endpoint it can be reached at, best first (issue #32 item 4); older peers ignore it.
      federation_endpoints: deps.federationEndpoints?.() ?? [deps.publicUrl()],
    };
    // Where it receives while nobody can reach it (issue #32); older peers ignore it.
    const mailboxes = deps.mailboxesNamed?.() ?? [];
    if (mailboxes.length > 0) document.mailboxes = mailboxes.slice(0, 4);
    ctx.set('cache-control', 'public, max-age=3600');
    ctx.body = document;
  });
  return router;
}
