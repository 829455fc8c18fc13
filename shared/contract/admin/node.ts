/**
 * The node itself: its status, first setup, and pausing federation.
 * Part of the admin contract (shared/contract/admin-operations.ts).
 */
import { z } from 'zod';
import { serverNameSchema } from './schemas.ts';
import { publicUrlProblem } from '../../endpoint.ts';
import type { Reachability } from './reachability.ts';

export const nodeOperations = {
  getStatus: { method: 'GET', path: '/status', input: z.strictObject({}), inSetup: true },
  setup: {
    method: 'POST',
    path: '/setup',
    inSetup: true,
    input: z.strictObject({
      server_name: serverNameSchema,
      /** Where friends reach this node, when not https://<server_name>:<port>. */
      public_url: z.string().superRefine((url, ctx) => {
        const problem = publicUrlProblem(url);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      }).optional(),
      /** Contents of a backed-up identity.json, to keep an existing identity. */
      identity_backup: z.string().max(64 * 1024).optional(),
      /** Your own certificate instead of a generated self-signed one (PEM file paths on this machine). */
      tls_cert_file: z.string().min(1).max(4096).optional(),
      tls_key_file: z.string().min(1).max(4096).optional(),
    }).refine((s) => (s.tls_cert_file === undefined) === (s.tls_key_file === undefined), { message: 'give the certificate and its key together', path: ['tls_cert_file'] }),
  },
  checkReachability: { method: 'POST', path: '/setup/check', input: z.strictObject({}) },
  pauseFederation: { method: 'POST', path: '/federation/pause', input: z.strictObject({}) },
  resumeFederation: { method: 'POST', path: '/federation/resume', input: z.strictObject({}) },
} as const;

export interface NodeOutputs {
  getStatus: NodeStatus;
  /** `error`: the raw cause when it does not answer (shown behind "details"; `message` is in words). */
  checkReachability: { reachable: boolean; url: string | null; message: string; error?: string };
  setup: NodeStatus;
  pauseFederation: { paused: boolean };
  resumeFederation: { paused: boolean };
}

export interface NodeStatus {
  mode: 'running' | 'setup';
  setup_required: boolean;
  server_name: string | null;
  key_id: string | null;
  public_key: string | null;
  /** The signing key as friends see it when they use your link (SHA-256, first 16 bytes). */
  key_fingerprint?: string | null;
  /**
   * `scheme`: how friends' servers reach this node, known in setup mode too: 'http' only under
   * `--insecure-http` (tests, one private network), where there is no certificate to choose.
   * `self_signed`: its certificate is the one it made itself (not the owner's own): a browser opening
   * a member link warns ("Your connection is not private") until the member goes on.
   */
  federation: { paused: boolean; url: string | null; tls_fingerprint: string | null; scheme: 'https' | 'http'; self_signed?: boolean };
  peers: number;
  peer_counts: { allow: number; block: number; quarantine: number };
  queue: { pending: number; failed: number };
  version: string;
  uptime_ms: number;
  /** The last backup (CLI or scheduled) and a warning when there is none, it is old or failed, or backups are not encrypted. */
  backup: {
    last_at: number | null;
    scheduled: boolean;
    warning: string | null;
    /** When the schedule next tries a backup (ms; null without one): after a failure, its retry, not the interval (a user trial: "failed … tries again within an hour" beside "the next one in 1 day"). */
    next_at?: number | null;
  };
  /** How the private keys are kept at rest: sealed by the OS keychain, or a 0600 file (with a warning where nothing better exists). */
  key_storage: { sealed_by: string | null; warning: string | null };
  /** Things the owner should look at, one sentence each (peers over their storage quota, the log cannot be written: disk full, …). */
  warnings?: string[];
  /** Can friends reach this node (issue #15); absent in setup mode. `summary`: the tray's line. */
  reachability?: Reachability & { summary: string };
  /** Members (issue #34) with a session now: the tray's and the dashboard's count. */
  members_signed_in?: number;
}
