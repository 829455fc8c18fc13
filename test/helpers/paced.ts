import { expect } from 'vitest';
import { MIN_EMPTY_PAGE_GAP_MS } from '../../main/core/federation/signed-page-loop.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Over three seconds from now, a peer's pages (`asks`: when each was asked, pushed by its route)
 * were asked at least once and at most once per MIN_EMPTY_PAGE_GAP_MS (the bound follows the time
 * that really passed: a busy machine sleeps longer than asked; +2 for the asks at both ends). A gap
 * counts from 0.8 of it: the peer stamps an ask when it arrives, so two asks can read closer than
 * they were made (a CI run, 2026-11-29: 8 asks against a bound of 7, the 3 s sleep ending at
 * 2,999 ms). The defects this catches made hundreds of asks.
 */
export async function pacedFromNow(asks: readonly number[]): Promise<void> {
  const from = asks.length;
  const started = performance.now();
  await sleep(3_000);
  const elapsed = performance.now() - started;
  expect(asks.length - from).toBeGreaterThan(0);
  expect(asks.length - from).toBeLessThanOrEqual(Math.floor(elapsed / (MIN_EMPTY_PAGE_GAP_MS * 0.8)) + 2);
}
