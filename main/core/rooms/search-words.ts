/**
 * A search's words (search-index.ts): the query cut into the words FTS5's unicode61 tokenizer
 * sees, folded as it folds them, and each hit's body HTML-escaped with the query's words marked.
 */
/** Words as FTS5's unicode61 tokenizer sees them (letters, digits, combining marks). */
const WORD = /[\p{L}\p{N}\p{M}]+/gu;
/** Words of a query that are used (the rest is ignored); bounds the MATCH expression. */
export const MAX_QUERY_WORDS = 16;

/** Lower case without diacritics: how unicode61 (remove_diacritics 2) compares words. */
export function foldWord(word: string): string {
  return word.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

export function queryWords(q: string): string[] {
  const words = [...q.matchAll(WORD)].map((m) => m[0]).filter((w) => foldWord(w).length > 0);
  return [...new Set(words)].slice(0, MAX_QUERY_WORDS);
}


const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const NEEDS_ESCAPE = /[&<>"']/;
export function escapeHtml(s: string): string {
  return NEEDS_ESCAPE.test(s) ? s.replace(/[&<>"']/g, (c) => ESCAPES[c]!) : s;
}

/** Words marked in one hit at most. */
const MAX_MARKS_PER_HIT = 100;
/** Words a search's highlights read at most, its hits together; past it, hits are shown unmarked. */
export const MAX_HIGHLIGHT_WORDS = 40_000;
const ASCII = /^[ -~]*$/; // printable ASCII (a word has no control characters)

/**
 * A search's highlighter: each body HTML-escaped, with the words equal to a query word wrapped in
 * <mark>…</mark>. Bounded, since a member can plant bodies and search for them again and again,
 * 10 a second (a red-team review of search, 2026-11-30: 200 hits of 2,000 words each, every word
 * folded (NFD, a Unicode regex) and each match marked, cost ~150 ms of the main thread a search):
 * each distinct word is folded once (ASCII by lower-casing alone), at most 100 words are marked a
 * hit, and a search reads at most MAX_HIGHLIGHT_WORDS words, the later hits shown unmarked.
 */
export function highlighter(words: string[]): (body: string) => string {
  const wanted = new Set(words.map(foldWord));
  const folded = new Map<string, boolean>();
  let wordsLeft = MAX_HIGHLIGHT_WORDS;
  return (body) => {
    let out = '';
    let last = 0;
    let marks = 0;
    for (const m of body.matchAll(WORD)) {
      if (--wordsLeft < 0) break;
      const word = m[0];
      let hit = folded.get(word);
      if (hit === undefined) {
        hit = wanted.has(ASCII.test(word) ? word.toLowerCase() : foldWord(word));
        if (folded.size < 10_000) folded.set(word, hit);
      }
      if (!hit) continue;
      out += escapeHtml(body.slice(last, m.index)) + '<mark>' + escapeHtml(word) + '</mark>';
      last = m.index + word.length;
      // Enough to show where it matched: the rest as it is (a body of one word said 2,000 times).
      if (++marks >= MAX_MARKS_PER_HIT) break;
    }
    return out + escapeHtml(body.slice(last));
  };
}

/** One body highlighted (highlighter's, for one hit). */
export function highlight(body: string, words: string[]): string {
  return highlighter(words)(body);
}
