/**
 * The admin contract (DESIGN.md §2): every admin operation defined once — name, HTTP method
 * and path, input schema, output type. The HTTP admin API and the Electron IPC bridge are
 * both served from this table; the renderer's client is generated from it.
 *
 * An operation's input is one object: path parameters, query parameters and the JSON body
 * merged. Schemas are strict: unknown fields are refused.
 */
import { z } from 'zod';
import { KEY_ID, HEX_PUBLIC_KEY, isServerName } from '../identifiers.ts';

export const serverNameSchema = z
  .string()
  .transform((s) => s.toLowerCase())
  .refine(isServerName, 'must be a host name (lowercase letters, digits, dots, dashes) with an optional :port');

const endpointSchema = z
  .url({ protocol: /^https?$/, message: 'must be an http(s) URL such as https://example.org:8448' })
  .refine((u) => !new URL(u).search && !new URL(u).hash, 'must not have a query or fragment');

export const trustModeSchema = z.enum(['allow', 'block', 'quarantine']);
export const defaultPolicySchema = z.enum(['allowlist', 'open']);
const fingerprintSchema = z
  .string()
  .regex(/^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$/, 'must be a SHA-256 fingerprint like AB:CD:…')
  .transform((s) => s.toUpperCase());

export const adminOperations = {
  getStatus: { method: 'GET', path: '/status', input: z.strictObject({}) },
  setup: { method: 'POST', path: '/setup', input: z.strictObject({ server_name: serverNameSchema }) },
  listPeers: { method: 'GET', path: '/peers', input: z.strictObject({}) },
  addPeer: {
    method: 'POST',
    path: '/peers',
    input: z
      .strictObject({
        server_name: serverNameSchema,
        endpoint: endpointSchema.optional(),
        key_id: z.string().regex(KEY_ID, 'must look like ed25519:<1-32 letters, digits or _>').optional(),
        public_key: z.string().regex(HEX_PUBLIC_KEY, 'must be 64 lowercase hex characters').optional(),
        tls_fingerprint: fingerprintSchema.optional(),
      })
      .refine((p) => (p.key_id === undefined) === (p.public_key === undefined), {
        message: 'give key_id and public_key together, or neither (to fetch them)',
        path: ['key_id'],
      }),
  },
  setPeerTrust: {
    method: 'PUT',
    path: '/peers/:server_name/trust',
    input: z.strictObject({
      server_name: serverNameSchema,
      mode: trustModeSchema,
      reason: z.string().max(500).optional(),
      until_ms: z.number().int().positive().optional(),
      rate_limit: z.strictObject({ per_second: z.number().positive().max(100_000), burst: z.number().int().positive().max(1_000_000) }).optional(),
    }),
  },
  getPolicy: { method: 'GET', path: '/policy', input: z.strictObject({}) },
  setPolicy: { method: 'PUT', path: '/policy', input: z.strictObject({ default: defaultPolicySchema }) },
} as const;

export type AdminOperationName = keyof typeof adminOperations;
export type AdminInput<N extends AdminOperationName> = z.output<(typeof adminOperations)[N]['input']>;

export interface NodeStatus {
  mode: 'running' | 'setup';
  setup_required: boolean;
  server_name: string | null;
  key_id: string | null;
  public_key: string | null;
  federation: { paused: boolean; url: string | null; tls_fingerprint: string | null };
  peers: number;
  peer_counts: { allow: number; block: number; quarantine: number };
  queue: { pending: number; failed: number };
  version: string;
  uptime_ms: number;
}

export interface PeerView {
  server_name: string;
  trust: z.infer<typeof trustModeSchema>;
  endpoint: string | null;
  tls_fingerprint: string | null;
  reason: string | null;
  until_ms: number | null;
  rate_limit: { per_second: number; burst: number } | null;
  added_at: number;
  last_seen_at: number | null;
  keys: Array<{ key_id: string; public_key: string; source: string; expired_at: number | null }>;
}

export interface AdminOutputs {
  getStatus: NodeStatus;
  setup: NodeStatus;
  listPeers: { peers: PeerView[] };
  addPeer: PeerView;
  setPeerTrust: PeerView;
  getPolicy: { default: z.infer<typeof defaultPolicySchema> };
  setPolicy: { default: z.infer<typeof defaultPolicySchema> };
}

export type AdminOutput<N extends AdminOperationName> = AdminOutputs[N];

/** One function per operation: what both transports call. */
export type AdminHandlers = { [N in AdminOperationName]: (input: AdminInput<N>) => Promise<AdminOutput<N>> };

export const ADMIN_API_PREFIX = '/_paracord/admin/v1';
