import type { z } from 'zod';
import { schemaIssueText } from '../util/untrusted-text.ts';

/**
 * One readable line from a schema failure: `field: what is wrong`, for its first three issues. The
 * input may be a peer's (federation routes answer with it): each issue is worded by
 * schemaIssueText, cut and escaped (an unknown key's name is in its message).
 */
export function formatZodError(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => schemaIssueText([issue]))
    .join('; ');
}
