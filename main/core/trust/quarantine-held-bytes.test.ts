/**
 * Held bytes kept by QuarantineStore (issue #37 review): a savepoint of the storing transaction
 * that held an event and was rolled back must not leave the event counted; a retry counts it once.
 */
import { describe, expect, it } from '../../../test/helpers/fixtures.ts';
import { GroupCommit } from '../store/group-commit.ts';
import { QuarantineStore } from './quarantine.ts';
import type { Envelope } from '../federation/envelope.ts';

const event = (id: string): Envelope => ({
  event_id: `$${id}:q.test`, room_id: '!r:h.test', event_type: 'm.message', sender: '@u:q.test', origin_server: 'q.test',
  origin_ts: 1, depth: 1, state_key: null, content: { body: 'x'.repeat(100) }, signatures: { 'q.test': { 'ed25519:a': 'ab' } },
});

describe('quarantine held bytes', () => {
  it('a rolled back savepoint does not count its held event; a retry counts it once, as the table does', async ({ tempDb }) => {
    const { db } = tempDb;
    const commit = new GroupCommit(db);
    const quarantine = new QuarantineStore(db);
    commit.onRollback = () => quarantine.forgetHeldBytes();
    const fromTable = () => quarantine.heldBytesByServer().get('q.test') ?? 0;
    await commit.run(() => quarantine.hold('q.test', 'q.test', event('a'), 'h1'));
    const one = quarantine.heldBytes('q.test');
    expect(one).toBeGreaterThan(0);
    await commit.run(() => {
      expect(() => commit.savepoint(() => {
        quarantine.hold('q.test', 'q.test', event('b'), 'h2');
        throw new Error('a write of the batch failed');
      })).toThrow();
      // The retry, in a savepoint of its own (storeMany's fallback).
      commit.savepoint(() => quarantine.hold('q.test', 'q.test', event('b'), 'h2'));
    });
    expect(quarantine.heldBytes('q.test')).toBe(2 * one);
    quarantine.forgetHeldBytes();
    expect(fromTable()).toBe(2 * one);
    // The legitimate twin: a hold that commits is counted at once.
    await commit.run(() => quarantine.hold('q.test', 'q.test', event('c'), 'h3'));
    expect(quarantine.heldBytes('q.test')).toBe(3 * one);
  });
});
