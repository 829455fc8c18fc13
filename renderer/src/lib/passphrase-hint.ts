/**
 * The strength hint under a new passphrase (issue #34): the node refuses passphrases shorter than
 * 10 characters or among those people guess first (main/core/members/passphrase.ts, with
 * @zxcvbn-ts); the page says so while the member types, with the same scorer loaded on demand
 * (only the join and reset pages need it).
 */
import { PASSPHRASE_MIN_CHARS } from './member-api.ts';

export interface Hint {
  text: string;
  /** Whether the node would take it (as far as the page can tell). */
  ok: boolean;
}

/** The node's own bar: zxcvbn's score 3 of 4. */
const MIN_SCORE = 3;

/** `score`: zxcvbn's 0–4, or null while the scorer loads (then only the length is judged). */
export function passphraseHint(passphrase: string, score: number | null): Hint {
  const chars = [...passphrase].length;
  if (chars === 0) return { text: `At least ${PASSPHRASE_MIN_CHARS} characters. A few unrelated words are easiest to remember.`, ok: false };
  if (chars < PASSPHRASE_MIN_CHARS) return { text: `${PASSPHRASE_MIN_CHARS - chars} more ${PASSPHRASE_MIN_CHARS - chars === 1 ? 'character' : 'characters'} needed.`, ok: false };
  if (score === null) return { text: 'Long enough.', ok: true };
  if (score < MIN_SCORE) return { text: 'Too easy to guess: add a few unrelated words.', ok: false };
  return { text: score >= 4 ? 'Strong.' : 'Good.', ok: true };
}

export type Scorer = (passphrase: string, personal: string[]) => number;

let scorer: Promise<Scorer> | null = null;
/** zxcvbn with its common lists, loaded once on first use (a separate chunk). */
export function loadScorer(): Promise<Scorer> {
  scorer ??= Promise.all([import('@zxcvbn-ts/core'), import('@zxcvbn-ts/language-common')]).then(([core, common]) => {
    const factory = new core.ZxcvbnFactory({ dictionary: { ...common.dictionary }, graphs: common.adjacencyGraphs });
    return (passphrase: string, personal: string[]) => factory.check(passphrase, personal).score;
  });
  return scorer;
}
