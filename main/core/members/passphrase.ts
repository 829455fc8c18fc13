/**
 * Members' passphrases (issue #34): checked before they are accepted (long enough, not one of the
 * passphrases everybody tries — @zxcvbn-ts with its common-password and word lists), and stored
 * only as Argon2id hashes (libsodium's crypto_pwhash_str, interactive limits, off the main thread).
 */
import sodium from 'sodium-native';
import type { ZxcvbnFactory } from '@zxcvbn-ts/core';

export const PASSPHRASE_MIN_CHARS = 10;
export const PASSPHRASE_MAX_CHARS = 256;
/** zxcvbn scores 0–4; below this a passphrase is one a guesser tries early. */
const MIN_SCORE = 3;

/**
 * The scorer and its lists are loaded at the first passphrase checked, not with the node: they add
 * ~28 MB of RSS to a process, which every node would carry idle (issue #36 goal 5).
 */
let strength: Promise<ZxcvbnFactory> | null = null;
function scorer(): Promise<ZxcvbnFactory> {
  strength ??= Promise.all([import('@zxcvbn-ts/core'), import('@zxcvbn-ts/language-common')]).then(
    ([{ ZxcvbnFactory: Factory }, common]) => new Factory({ dictionary: { ...common.dictionary }, graphs: common.adjacencyGraphs }),
  );
  return strength;
}

/** Why `passphrase` cannot be used, in words, or null. `personal`: words it must not lean on (the user name, the server's). */
export async function passphraseProblem(passphrase: string, personal: readonly string[] = []): Promise<string | null> {
  const chars = [...passphrase].length;
  if (chars < PASSPHRASE_MIN_CHARS) return `a passphrase needs at least ${PASSPHRASE_MIN_CHARS} characters (a few words are easiest to remember)`;
  if (chars > PASSPHRASE_MAX_CHARS) return `a passphrase may have at most ${PASSPHRASE_MAX_CHARS} characters`;
  // "home.example" is also guessed as "home", "example" and "homeexample".
  const words = personal.flatMap((w) => [w, w.replace(/[^\p{L}\p{N}]+/gu, ''), ...w.split(/[^\p{L}\p{N}]+/u)]).filter((w) => w.length >= 3);
  const result = (await scorer()).check(passphrase, [...new Set(words)]);
  if (result.score < MIN_SCORE) return 'this passphrase is among those people guess first; add a few unrelated words';
  return null;
}

const OPS = sodium.crypto_pwhash_OPSLIMIT_INTERACTIVE;
const MEM = sodium.crypto_pwhash_MEMLIMIT_INTERACTIVE;

/**
 * Hashes run at most two at a time: each takes 64 MiB and a thread of libuv's pool (4 threads,
 * which the WAL flush and file work share); sign-ins from many addresses at once wait their turn
 * instead of filling memory and the pool.
 */
const MAX_CONCURRENT_HASHES = 2;
let running = 0;
const waiting: Array<() => void> = [];
async function oneAtATime<T>(work: () => Promise<T>): Promise<T> {
  if (running >= MAX_CONCURRENT_HASHES) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await work();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

/** The Argon2id hash of a passphrase, as libsodium's self-describing string. */
export async function hashPassphrase(passphrase: string): Promise<string> {
  const out = Buffer.alloc(sodium.crypto_pwhash_STRBYTES);
  await oneAtATime(() => new Promise<void>((resolve, reject) => sodium.crypto_pwhash_str_async(out, Buffer.from(passphrase, 'utf8'), OPS, MEM, (error) => (error ? reject(error) : resolve()))));
  return out.toString('utf8').replace(/\0+$/, '');
}

/** Whether `passphrase` matches `hash` (made by hashPassphrase). */
export async function verifyPassphrase(hash: string, passphrase: string): Promise<boolean> {
  const stored = Buffer.alloc(sodium.crypto_pwhash_STRBYTES);
  Buffer.from(hash, 'utf8').copy(stored);
  return oneAtATime(() => new Promise<boolean>((resolve) => sodium.crypto_pwhash_str_verify_async(stored, Buffer.from(passphrase, 'utf8'), (error, matches) => resolve(!error && matches === true))));
}

let dummy: Promise<string> | null = null;
/**
 * A hash nobody's passphrase matches: verified against when the user name is unknown, so a
 * failed sign-in takes as long whether the member exists or not.
 */
export function dummyHash(): Promise<string> {
  dummy ??= hashPassphrase(`no member has this ${Math.random()}`);
  return dummy;
}

/**
 * The work of checking a passphrase for a user name nobody has: a verification against the dummy
 * hash, or, the first time (no dummy yet), making the dummy itself — one Argon2id run with the same
 * limits either way, so even the first unknown name costs what a real check costs (not two runs).
 */
export async function verifyNobody(passphrase: string): Promise<false> {
  if (dummy === null) await dummyHash();
  else await verifyPassphrase(await dummy, passphrase);
  return false;
}
