/**
 * The Paracord reference server's dialect (chosen per peer, never per message; facts with file:line
 * citations in docs/REFERENCE-INTEROP-NOTES.md; what we do about each difference in
 * docs/PROTOCOL.md "Interop with the Paracord reference").
 *
 * Which dialect a peer speaks is decided ONCE per peer, from its discovery document, and stored
 * (peer-dialects.ts); nothing here guesses from a single message.
 *
 * Discovery of the reference v0.8.5 (crates/paracord-api/src/routes/federation.rs:719-728) is
 * `{server_name, domain, federation_endpoint: "/_paracord/federation/v1", enabled, version}`: a
 * RELATIVE endpoint, no `capabilities`. Ours is `{server_name, domain, federation_endpoint:
 * <absolute origin>, enabled, version, capabilities, ...}`: a peer that lists `capabilities` is one
 * of ours; one that does not is the reference.
 */
import { z } from 'zod';
import { isServerName } from '../../../../shared/identifiers.ts';
import { normalizeEndpoint } from '../../../../shared/endpoint.ts';
import { FEDERATION_PREFIX } from '../paths.ts';
import { schemaIssueText } from '../../util/untrusted-text.ts';
import { cleanText } from '../../util/untrusted-text.ts';

export type PeerDialect = 'node' | 'reference';

export const REFERENCE_PROTOCOL_VERSION = 'federation-v1';
/**
 * What the reference 3.x says in discovery (crates/paracord-federation/src/lib.rs @e6f874b0,
 * FEDERATION_PROTOCOL_DEFAULT), stored as a peer's version: it binds every signed request to its
 * destination and refuses the four-line form (docs/PROTOCOL.md).
 */
export const REFERENCE_V2 = 'federation-v2';
/** A reference peer's generation: v0.8.5 (four-line signatures, never pushes) or 3.x. */
export type ReferenceVersion = '0.8' | '3';

/** What we read from any discovery document: the reference's ServerInfo (protocol.rs:53-60) plus our extras; unknown fields ignored. */
const rawDiscoverySchema = z.object({
  server_name: z.string().max(255),
  domain: z.string().max(255).optional(),
  federation_endpoint: z.string().max(300),
  enabled: z.boolean(),
  version: z.string().max(64).optional(),
  capabilities: z.array(z.string().max(64)).max(64).optional(),
  // Read leniently below (issue #32 item 4): a bad list is ignored, never a reason to refuse the document.
  federation_endpoints: z.unknown().optional(),
  // The reference 3.x lists what it speaks (lib.rs @e6f874b0: ["federation-v2", "federation-v1"]).
  supported_versions: z.array(z.string().max(64)).max(16).optional(),
});

/** At most this many of a server's `federation_endpoints` are kept. */
export const MAX_READ_ENDPOINTS = 8;

export interface ReadDiscovery {
  server_name: string;
  /** The id suffix it uses (the reference's `domain`); equal to server_name when absent. */
  domain: string;
  /** Our endpoint form: `scheme://host[:port]`, to which `/_paracord/federation/v1/...` is appended. */
  federation_endpoint: string;
  enabled: boolean;
  version: string;
  /** The versions it says it speaks (`supported_versions`, reference 3.x), when it lists them. */
  supported_versions?: string[];
  capabilities: string[];
  /**
   * Every endpoint it says it can be reached at, best first, starting with `federation_endpoint`
   * (issue #32 item 4): the entries that pass the endpoint normaliser, in the primary endpoint's
   * scheme, at most MAX_READ_ENDPOINTS. Just the primary endpoint when the document lists none.
   */
  federation_endpoints: string[];
  dialect: PeerDialect;
}

export type DiscoveryRead = { ok: true; document: ReadDiscovery } | { ok: false; reason: string };

/**
 * A `federation_endpoint` as either kind of server writes it, resolved against the URL the
 * discovery document came from and reduced to our endpoint form. Accepted: an origin
 * (`https://host[:port]`, ours), or `/_paracord/federation/v1` relative or absolute (the
 * reference's), each with an optional trailing slash. Anything else (another path, a query,
 * userinfo) is refused by the one endpoint normaliser (shared/endpoint.ts).
 */
export function resolveFederationEndpoint(value: string, discoveryUrl: string): { ok: true; endpoint: string } | { ok: false; reason: string } {
  const absolute = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(value);
  let candidate = value;
  if (!absolute) {
    if (!value.startsWith('/') || value.startsWith('//')) return { ok: false, reason: 'federation_endpoint must be an absolute URL or a path starting with /' };
    let base: URL;
    try {
      base = new URL(discoveryUrl);
    } catch {
      return { ok: false, reason: 'the discovery URL is not a URL' };
    }
    candidate = `${base.protocol}//${base.host}${value}`;
  }
  const prefix = FEDERATION_PREFIX;
  const match = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*)(\/[^?#]*)?$/.exec(candidate);
  if (match && match[2] !== undefined && (match[2] === prefix || match[2] === `${prefix}/`)) candidate = match[1]!;
  const checked = normalizeEndpoint(candidate);
  return checked.ok ? { ok: true, endpoint: checked.endpoint } : { ok: false, reason: `federation_endpoint: ${checked.reason}` };
}

/** Reads a discovery document of either dialect (`discoveryUrl`: where it was fetched). */
export function readDiscovery(raw: unknown, discoveryUrl: string): DiscoveryRead {
  const parsed = rawDiscoverySchema.safeParse(raw);
  if (!parsed.success) {
    return { ok: false, reason: schemaIssueText(parsed.error.issues, 'not a discovery document') };
  }
  const d = parsed.data;
  if (!isServerName(d.server_name)) return { ok: false, reason: `server_name ${cleanText(JSON.stringify(d.server_name.slice(0, 80)), 100)} is not a canonical server name` };
  const domain = d.domain === undefined || d.domain === '' ? d.server_name : d.domain.toLowerCase();
  if (!isServerName(domain)) return { ok: false, reason: `domain ${cleanText(JSON.stringify(domain.slice(0, 80)), 100)} is not a server name` };
  const endpoint = resolveFederationEndpoint(d.federation_endpoint, discoveryUrl);
  if (!endpoint.ok) return endpoint;
  // The reference's version field is optional (protocol.rs:59, `#[serde(default)]`); v0.8.5 sends "federation-v1".
  const version = d.version ?? REFERENCE_PROTOCOL_VERSION;
  const dialect: PeerDialect = d.capabilities !== undefined ? 'node' : 'reference';
  return {
    ok: true,
    document: {
      server_name: d.server_name, domain, federation_endpoint: endpoint.endpoint, enabled: d.enabled, version,
      ...(d.supported_versions !== undefined ? { supported_versions: d.supported_versions } : {}), capabilities: d.capabilities ?? [],
      federation_endpoints: readEndpointList(endpoint.endpoint, dialect === 'node' ? d.federation_endpoints : undefined), dialect,
    },
  };
}

/**
 * A discovery document's `federation_endpoints`, leniently: not a list → none; entries that are
 * not endpoints (endpoint.ts), or in another scheme than the primary endpoint (no downgrade from
 * https to http), are dropped. The primary endpoint comes first whatever the list says.
 */
function readEndpointList(primary: string, raw: unknown): string[] {
  const list = [primary];
  if (!Array.isArray(raw)) return list;
  const scheme = primary.slice(0, primary.indexOf(':'));
  for (const entry of raw.slice(0, 64)) {
    if (typeof entry !== 'string') continue;
    const checked = normalizeEndpoint(entry);
    if (!checked.ok || !checked.endpoint.startsWith(`${scheme}://`) || list.includes(checked.endpoint)) continue;
    list.push(checked.endpoint);
    if (list.length >= MAX_READ_ENDPOINTS) break;
  }
  return list;
}

export { endpointFromAnyUrl as baseUrlFromAnyLink } from '../../../../shared/endpoint.ts';
