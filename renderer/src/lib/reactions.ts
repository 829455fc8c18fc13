/**
 * How a message's reaction reads on screen: its count and who has it. A page names at most a few
 * users per key (the node's reaction-index.ts); the count covers everyone, and the names end with
 * how many more there are, so a reaction of 400 users never reads as 10.
 */
import { visible } from './display.ts';
import { MAX_REACTION_KEY_CHARS } from '../../../shared/contract/admin-operations.ts';
import { atMostCodePoints } from '../../../shared/identifiers.ts';

export interface ReactionSummary {
  count: number;
  /** The names shown (visible()), then "and N others" when the page named only some. */
  title: string;
}

export function reactionSummary(users: readonly string[], count: number | undefined): ReactionSummary {
  const total = Math.max(count ?? users.length, users.length);
  const names = users.map(visible).join(', ');
  const more = total - users.length;
  return { count: total, title: more > 0 ? `${names} and ${more} ${more === 1 ? 'other' : 'others'}` : names };
}

/**
 * Whether our user may add this reaction too: a reference server's user may react with a longer
 * key (its custom emoji, up to 64 characters) than ours may hold; such a key is shown, not offered.
 */
export function mayReactWith(key: string): boolean {
  return atMostCodePoints(key, MAX_REACTION_KEY_CHARS);
}
