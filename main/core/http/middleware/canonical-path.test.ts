import { describe, expect, it } from 'vitest';
import { pathProblem } from './canonical-path.ts';

describe('pathProblem', () => {
  it('accepts the canonical spelling of every kind of path the node serves', () => {
    for (const path of [
      '/', '/_paracord/federation/v1/event', '/_paracord/federation/v1/event/%24abc%3Aalpha.test',
      '/.well-known/paracord/server', '/_paracord/admin/v1/rooms/!r%3Aa.test/messages', '/assets/index-abc.js',
      '/_paracord/federation/v1/', '/x/%24abc%3aalpha.test',
    ]) {
      expect(pathProblem(path), path).toBeNull();
    }
  });

  it('refuses case variants, encoded slashes and dots, double slashes, dot segments and trailing dots', () => {
    for (const path of [
      '/_PARACORD/federation/v1/event', '/_Paracord/federation/v1/event', '/.WELL-KNOWN/paracord/server', '/_PARACORD',
      '/_paracord%2ffederation/v1/event', '/_paracord/federation/v1/%65vent', '/_paracord/federation/v1/%2e%2e/x',
      '/_paracord//federation/v1/event', '/_paracord/./federation/v1/event', '/_paracord/federation/v1/../v1/event',
      '/_paracord./federation/v1/event', '/_paracord/federation/v1/event.', '/_paracord\\federation', '/a%2', '/a%zz', '/a%25b', '/a%5cb', '/a%00b',
      '/caf\u00e9', '/a\u0000b',
    ]) {
      expect(pathProblem(path), path).not.toBeNull();
    }
  });
});
