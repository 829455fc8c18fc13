/**
 * A whole number from a query string, a path or a JSON body, read strictly: a JSON number, or
 * decimal digits alone (no sign, exponent, hex, spaces or padding). `z.coerce.number()` ran
 * `Number()` on anything: `0x10` named entry 16, `1e3` a thousand, and on the admin stream `true`
 * and `[5]` passed as 1 and 5 (a review, 2026-12-01).
 */
import { z } from 'zod';

const DIGITS = /^(0|[1-9][0-9]{0,15})$/;

export function wholeNumber(min: number, max: number) {
  return z
    .union([z.number(), z.string().regex(DIGITS, 'must be a whole number written in decimal digits').transform(Number)], { error: 'must be a whole number' })
    .pipe(z.number().int().min(min).max(max));
}
