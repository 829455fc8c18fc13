/**
 * Whether friends can reach this node, and how it receives (issue #15).
 * Part of the admin contract (shared/contract/admin-operations.ts).
 */
import { z } from 'zod';
import { serverNameSchema } from './schemas.ts';

export const reachabilityOperations = {
  getReachability: { method: 'GET', path: '/reachability', input: z.strictObject({}) },
  /** Runs a fresh self-test: asks `via` (or any reachable peer) to call this node back. */
  runReachabilityCheck: { method: 'POST', path: '/reachability/check', input: z.strictObject({ via: serverNameSchema.optional() }) },
} as const;

export interface ReachabilityOutputs {
  getReachability: Reachability;
  runReachabilityCheck: Reachability & { status: string | null; latency_ms: number | null };
}

/** docs/ARCHITECTURE.md "What outside tools rely on": can peers reach this node, and how it receives. */
export interface Reachability {
  /** null: not tested yet, or no peer could be asked (`error` says why). */
  reachable: boolean | null;
  checked_at: number | null;
  via: string | null;
  endpoint: string | null;
  mode: 'push' | 'pull';
  mapping: { protocol: string; external_address: string; external_port: number; expires_at: number } | null;
  error: string | null;
  /**
   * The router's IPv6 firewall pinhole to this node (issue #32 item 4: UPnP IGDv2
   * WANIPv6FirewallControl), null when there is none; `address` is this node's global IPv6
   * address, `port` its federation port. Absent from nodes older than it.
   */
  pinhole?: { protocol: string; address: string; port: number; expires_at: number } | null;
  /** In pull mode: the friends whose mailboxes this node fetched from in the last 2 minutes (issue #32). */
  mailboxes?: string[];
  /**
   * Which address families the last self-test reached this node over (issue #32 item 4): true
   * reached, false tried and not reached, null not tried (the peer has no address of that family,
   * or this node publishes none). Absent before the first test, or when the peer did not say.
   */
  families?: { ipv4: boolean | null; ipv6: boolean | null };
  /**
   * A failure waiting for the test that confirms it (before pull mode): when that test runs. The
   * `error`'s "Testing again … in N s" was counted when it was written; this counts down. Absent
   * otherwise, and from older nodes.
   */
  next_test_at?: number;
}
