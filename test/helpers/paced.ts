import { expect } from 'vitest';
import { MIN_EMPTY_PAGE_GAP_MS } from '../../main/core/federation/signed-page-loop.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Over three seconds from now, a peer's pages (`asks`: when each was asked, pushed by its route)
 * were asked at least once and at most once per MIN_EMPTY_PAGE_GAP_MS (the bound follows the time
 * that really passed: a busy machine sleeps longer than asked; +2 for the asks at both ends).
 */
export async function pacedFromNow(asks: readonly number[]): Promise<void> {
  const from = asks.length;
  const started = performance.now();
  await sleep(3_000);
  const elapsed = performance.now() - started;
  expect(asks.length - from).toBeGreaterThan(0);
  expect(asks.length - from).toBeLessThanOrEqual(Math.floor(elapsed / MIN_EMPTY_PAGE_GAP_MS) + 2);
}
