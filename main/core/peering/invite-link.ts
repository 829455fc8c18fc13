/**
 * One-click peering links (docs/PROTOCOL.md §Peering links and pinning). A link carries everything the friend's node needs to
 * reach and pin us — server_name, endpoint, key id and public key, TLS certificate fingerprint —
 * plus a single-use token and an expiry, signed with our key so a corrupted or edited link is
 * refused before anything is contacted. Forms:
 *   paracord://peer/<payload>
 *   https://<our endpoint>/_paracord/peer#<payload>   (the fragment never reaches a server log)
 * where <payload> is base64url(canonical JSON).
 */
import { z } from 'zod';
import { HEX_PUBLIC_KEY, HEX_SIGNATURE, KEY_ID, isServerName } from '../../../shared/identifiers.ts';
import { canonicalJson } from '../crypto/canonical-json.ts';
import { verify } from '../crypto/ed25519.ts';
import { normalizeEndpoint } from '../../../shared/endpoint.ts';
import { PEER_LINK_PATH } from '../federation/paths.ts';

export const LINK_SCHEME_PREFIX = 'paracord://peer/';

export const linkPayloadSchema = z.strictObject({
  v: z.literal(1),
  server_name: z.string().refine(isServerName, 'not a server name'),
  // The endpoint normaliser (federation/endpoint.ts): no userinfo, path, query or fragment, a
  // canonical host. A link is signed, so it cannot be rewritten: a bad endpoint refuses the link.
  endpoint: z.string().superRefine((value, ctx) => {
    const checked = normalizeEndpoint(value);
    if (!checked.ok) ctx.addIssue({ code: 'custom', message: checked.reason });
  }),
  key_id: z.string().regex(KEY_ID),
  public_key: z.string().regex(HEX_PUBLIC_KEY),
  tls_fingerprint: z.string().regex(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/).nullable(),
  token: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
  expires_at: z.number().int().positive(),
  /**
   * Where the inviter receives while nobody can reach it (issue #32): friends' nodes that keep
   * its mail. A redeemer that cannot reach the endpoint leaves its peering request at one of
   * these it peers with. Only in links of a node that receives through mailboxes.
   */
  mailboxes: z.array(z.string().refine(isServerName, 'not a server name')).min(1).max(4).optional(),
  sig: z.string().regex(HEX_SIGNATURE),
});
export type LinkPayload = z.infer<typeof linkPayloadSchema>;

export function encodeLink(payload: LinkPayload): { link: string; https_link: string } {
  const encoded = Buffer.from(canonicalJson(payload), 'utf8').toString('base64url');
  return { link: `${LINK_SCHEME_PREFIX}${encoded}`, https_link: `${payload.endpoint.replace(/\/+$/, '')}${PEER_LINK_PATH}#${encoded}` };
}

export type ParsedLink = { ok: true; payload: LinkPayload } | { ok: false; reason: string };

/** Parses either form and checks the inviter's signature over the payload. */
export function parseLink(link: string): ParsedLink {
  const text = link.trim();
  let encoded: string | undefined;
  if (text.startsWith(LINK_SCHEME_PREFIX)) encoded = text.slice(LINK_SCHEME_PREFIX.length);
  else {
    try {
      const url = new URL(text);
      if ((url.protocol === 'https:' || url.protocol === 'http:') && url.pathname.endsWith(PEER_LINK_PATH)) encoded = url.hash.slice(1);
    } catch {
      // not a URL
    }
  }
  if (!encoded || !/^[A-Za-z0-9_-]+$/.test(encoded)) return { ok: false, reason: 'this is not a Paracord peer link (paracord://peer/… or https://…/_paracord/peer#…)' };
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'the link is damaged (its payload is not readable); ask for a new one' };
  }
  const parsed = linkPayloadSchema.safeParse(raw);
  // Readable, but not what a Paracord invite link holds (a field missing, wrong or unknown): said in
  // words, not as the schema's text ("v Invalid input: expected 1").
  // Our own refinements (an endpoint, a server name) are in words already.
  if (!parsed.success) {
    const own = parsed.error.issues.find((issue) => issue.code === 'custom');
    if (own) return { ok: false, reason: `the link is damaged: its ${own.path.join('.')} ${own.message}; ask for a new one` };
    return { ok: false, reason: 'the link is damaged, or it is not a Paracord peer invite link (what it holds is not what such a link holds); ask for a new one' };
  }
  const { sig, ...unsigned } = parsed.data;
  if (!verify(Buffer.from(sig, 'hex'), Buffer.from(canonicalJson(unsigned), 'utf8'), Buffer.from(parsed.data.public_key, 'hex'))) {
    return { ok: false, reason: 'the link has been altered (its signature does not match); ask for a new one' };
  }
  const endpoint = normalizeEndpoint(parsed.data.endpoint);
  return { ok: true, payload: { ...parsed.data, endpoint: endpoint.ok ? endpoint.endpoint : parsed.data.endpoint } };
}
