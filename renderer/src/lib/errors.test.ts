import { describe, expect, it } from 'vitest';
import { AdminError } from '../../../shared/contract/client.ts';
import { UNREACHABLE_REASONS, type UnreachableReason } from '../../../shared/contract/unreachable.ts';
import { ERROR_SENTENCES, UNREACHABLE_SENTENCES, explainBackupWarning, explainCause, explainError, explainReachability, fieldHint, invalidField, plainRule } from './errors.ts';

describe('explainError', () => {
  it('gives every node error code a sentence, with the raw cause as details', () => {
    const shown = explainError(new AdminError(403, 'not_the_sender', 'only the original sender may edit a message'));
    expect(shown.text).toBe('Only the person who wrote a message can edit it.');
    expect(shown.details).toContain('not_the_sender');
  });

  it('keeps the field of an input error but not the schema path noise', () => {
    const shown = explainError(new AdminError(400, 'invalid_input', 'rate_limit.per_second: Too small: expected number to be >0'));
    expect(shown.text).toBe('Some of what you typed is not valid. Requests per second: must be above 0.');
    expect(shown.text).not.toContain('rate_limit.');
    expect(shown.details).toContain('Too small');
  });

  it('says zod\'s rules in plain words and keeps the node\'s own rules', () => {
    expect(plainRule('Too big: expected number to be <=1000')).toBe('must be 1000 or less');
    expect(plainRule('Too small: expected string to have >=1 characters')).toBe('must not be empty');
    expect(plainRule('Too big: expected string to have <=4000 characters')).toBe('may have at most 4000 characters');
    expect(plainRule('Invalid input: expected string, received undefined')).toBe('is missing');
    expect(plainRule('Invalid input: expected number, received string')).toBe('must be a whole number');
    expect(plainRule('Invalid option: expected one of "daily"|"weekly"')).toBe('is not one of the choices');
    expect(plainRule('Invalid string: must match pattern /^[a-z]+$/')).toBe('is not written the right way');
    expect(plainRule('must not contain control characters')).toBe('must not contain control characters');
    for (const zod of ['Too small: expected number to be >0', 'Invalid input: expected boolean, received string', 'Unrecognized key: "zz"', 'Invalid URL']) {
      expect(fieldHint(`a.b_c: ${zod}`)).not.toMatch(/expected|Too small|Invalid|Unrecognized|[<>]=?/);
    }
  });

  it('names fields and formats in words, and tells a form which field to mark (a tester read "Dir: must be an absolute path")', () => {
    const error = (message: string) => new AdminError(400, 'invalid_input', message);
    expect(explainError(error('dir: must be an absolute path')).text).toBe('Some of what you typed is not valid. Backup folder: must be a full path starting with /.');
    expect(explainError(error('room_id: must look like !opaque:server')).text).toBe('Some of what you typed is not valid. Room id: must look like !1234567890:friend.example.');
    expect(explainError(error('user_id: must look like @localpart:server')).text).toBe('Some of what you typed is not valid. User: must look like @name:server.example (a user name, then the name of their server).');
    expect(explainError(error('dir: x')).text).not.toContain('highlighted');
    // The other forms' fields (lib/form-error.svelte.ts), as they are labelled.
    expect(explainError(error('endpoint: must be an http(s) URL')).text).toBe('Some of what you typed is not valid. Server address: must be an http(s) URL.');
    expect(explainError(error('public_key: must be 64 lowercase hex characters')).text).toBe('Some of what you typed is not valid. Public key: must be 64 lowercase hex characters.');
    expect(invalidField(error('public_key: must be 64 lowercase hex characters'))).toBe('public_key');
    expect(invalidField(error('dir: must be an absolute path'))).toBe('dir');
    expect(invalidField(error('rate_limit.per_second: Too small: expected number to be >0'))).toBe('per_second');
    expect(invalidField(error('something odd'))).toBeNull();
    expect(invalidField(new AdminError(403, 'owner_only', 'dir: no'))).toBeNull();
    expect(invalidField(new TypeError('Failed to fetch'))).toBeNull();
  });

  it('calls a fetch that never reached the node "does not answer"', () => {
    expect(explainError(new TypeError('Failed to fetch')).text).toBe('Your node does not answer. Is it still running?');
  });

  it('says why another server could not be reached when the node says, and does not call it a friend', () => {
    // (A user trial: an invitation to a server that does not exist read "Your friend's server does not answer.")
    expect(explainError(new AdminError(502, 'peer_unreachable', 'unknown.example could not be reached: getaddrinfo ENOTFOUND unknown.example')).text).toBe('That server name is not known on the internet (DNS).');
    expect(explainError(new AdminError(502, 'peer_unreachable', 'beta.example could not be reached: connect ECONNREFUSED 10.0.0.2:8448')).text).toBe('Their server is offline (it refused the connection).');
    expect(explainError(new AdminError(502, 'peer_unreachable', 'beta.example could not be reached: it was never reached at the endpoint it named')).text).toBe('That server does not answer.');
    // (Its name is not read as the reason.)
    expect(explainError(new AdminError(502, 'peer_unreachable', 'timeout.example could not be reached: connect ECONNREFUSED 10.0.0.2:8448')).text).toBe('Their server is offline (it refused the connection).');
    expect(explainError(new AdminError(502, 'peer_unreachable', 'certificate.example could not be reached: it was never reached at the endpoint it named')).text).toBe('That server does not answer.');
  });

  it('says why from the node\'s `reason` when it gives one, in the same words, whatever the message says', () => {
    const unreachable = (reason: unknown, message = 'friend.example could not be reached: GET https://friend.example/x failed: something') =>
      explainError(new AdminError(502, 'peer_unreachable', message, { reason, server: 'friend.example' }));
    const expected: Record<UnreachableReason, string> = {
      name_not_found: 'That server name is not known on the internet (DNS).',
      name_lookup_failed: 'The name could not be looked up right now (DNS). Is this computer online?',
      refused: 'Their server is offline (it refused the connection).',
      timeout: 'Their server did not answer in time.',
      connection_cut: 'The connection was cut.',
      no_route: 'Their server cannot be reached from here (no route).',
      network_down: 'This computer is not connected to a network.',
      tls: 'Their server\'s certificate is not the one you trust.',
      address_refused: 'That address is not allowed for a friend\'s server (a private or local address).',
      never_reached: 'That server has never been reached at the address it gave (it answers only through a friend\'s mailbox or by fetching), so it cannot be asked directly. Try again once it is reachable.',
      bad_answer: 'Something answers at that address, but not as a Paracord server does. Check the address: the server\'s name and its port.',
      other: 'That server does not answer.',
    };
    expect(Object.keys(expected).sort()).toEqual([...UNREACHABLE_REASONS].sort());
    for (const reason of UNREACHABLE_REASONS) {
      expect(unreachable(reason).text, reason).toBe(expected[reason]);
      expect(UNREACHABLE_SENTENCES[reason], reason).toBe(expected[reason]);
    }
    // The reason decides, not the words: the message's would say "offline" here.
    expect(unreachable('timeout', 'beta.example could not be reached: connect ECONNREFUSED 10.0.0.2:8448').text).toBe('Their server did not answer in time.');
    expect(unreachable('other', 'unknown.example could not be reached: getaddrinfo ENOTFOUND unknown.example').text).toBe('That server does not answer.');
    // A reason this page does not know (a newer node's) is no cause it can tell.
    expect(unreachable('solar_flare', 'x.example could not be reached: connect ECONNREFUSED 10.0.0.2:8448').text).toBe('That server does not answer.');
    // The raw answer stays behind "details".
    expect(unreachable('refused').details).toBe('peer_unreachable (502): friend.example could not be reached: GET https://friend.example/x failed: something');
    // Without a reason (an older node), the message's words are read as before (above).
    expect(explainError(new AdminError(502, 'peer_unreachable', 'beta.example could not be reached: connect ECONNREFUSED 10.0.0.2:8448', { server: 'beta.example' })).text).toBe('Their server is offline (it refused the connection).');
  });

  it('never shows developer text for unknown codes', () => {
    const shown = explainError(new AdminError(500, 'internal', 'TypeError: x is undefined\n    at foo (/app/x.js:1:2)'));
    expect(shown.text).not.toMatch(/TypeError|at foo/);
    expect(shown.details).toContain('TypeError');
  });

  it('has no empty or developer-looking sentence', () => {
    for (const [code, sentence] of Object.entries(ERROR_SENTENCES)) {
      expect(sentence.length, code).toBeGreaterThan(10);
      expect(sentence, code).not.toMatch(/[a-z]+_[a-z]+|ECONN|ENOENT|getaddrinfo/);
    }
  });
});

describe('explainCause', () => {
  it('turns network errors into words', () => {
    expect(explainCause('connect ECONNREFUSED 127.0.0.1:8448').text).toBe('Their server is offline (it refused the connection).');
    // A proxy's page at their address is retried, not their server's refusal (a review, 2026-12-01).
    expect(explainCause('HTTP 403').text).toBe('The other server refused it.');
    for (const cause of [
      "HTTP 403: its address answered with a page, not a node's answer",
      "its address answered HTTP 404 with a page, not a node's answer; no mailbox beta.test chose would take it: carol.test could not be asked (connect ECONNREFUSED 10.0.0.3:7447)",
      'HTTP 200: the answer was not its receipt of the event',
    ]) {
      expect(explainCause(cause).text, cause).toBe('Something else answered at their address (their server is down or being updated). It retries by itself.');
    }
    expect(explainCause('getaddrinfo ENOTFOUND friend.example.org').text).toBe('That server name is not known on the internet (DNS).');
    expect(explainCause('getaddrinfo EAI_AGAIN friend.example.org').text).toContain('DNS');
    expect(explainCause('ENOENT: no such file or directory, open /x').text).toBe('A file the node needs is missing.');
  });

  it('reads the code of a refused delivery', () => {
    expect(explainCause('HTTP 403 origin_blocked: this server blocks yours').text).toBe('The other server blocks yours.');
    expect(explainCause('HTTP 503').text).toContain('retries by itself');
    expect(explainCause('something odd').text).toBe('Something went wrong.');
    expect(explainCause(null).text).toBe('');
  });

  it('says who did not take it: a friend\'s mailbox is not the destination, and a group refused is sent again in smaller groups', () => {
    // As outbox/delivery-batches.ts words a batch refused as a whole (delivery-batches.test.ts).
    expect(explainCause('batch refused (4 events): HTTP 413; sending batches of at most 2 events for a while').text)
      .toBe('The other server did not take a group of messages this large. Your server sends smaller groups by itself.');
    expect(explainCause('batch refused (4 events): HTTP 404; sending single events for a while').text)
      .toBe('The other server does not take groups of messages. Your server sends them one by one by itself.');
    expect(explainCause('the mailbox at carol.test answered batch refused (4 events): HTTP 413; sending batches of at most 2 events for a while').text)
      .toBe('The mailbox at carol.test did not take a group of messages this large. Your server sends smaller groups by itself.');
    // A lone event a mailbox refused as too large (outbox/delivery-outcomes.ts).
    expect(explainCause('the mailbox at carol.test answered HTTP 413').text).toBe('The mailbox at carol.test refused it as too large.');
    // With an error code of its own (not the composer's "too large to send": it may go another way).
    expect(explainCause('the mailbox at carol.test answered HTTP 413 body_too_large: request body over 1 MiB').text).toBe('The mailbox at carol.test refused it as too large.');
  });
});

describe('explainBackupWarning', () => {
  it('puts the raw error of a failed backup under details and keeps the sentences before it', () => {
    const raw = "cannot write /srv/b/paracord-x.pcbak: the folder /srv/b does not exist";
    const only = explainBackupWarning(`The last scheduled backup failed: ${raw}`);
    expect(only).toEqual({ text: 'The last scheduled backup failed: the backup folder does not exist any more. It tries again within an hour.', details: raw });
    // The unencrypted warning (mentions a passphrase file) comes first and must not decide the cause.
    const both = explainBackupWarning(`Scheduled backups are not encrypted: give them a passphrase file. The last scheduled backup failed: ${raw}`);
    expect(both.text).toBe('Scheduled backups are not encrypted: give them a passphrase file. The last scheduled backup failed: the backup folder does not exist any more. It tries again within an hour.');
    expect(both.details).toBe(raw);
    expect(explainBackupWarning('No backup yet.')).toEqual({ text: 'No backup yet.', details: '' });
  });

  it('says when it tries again as the node will (next_at), and a fresh node\'s command apart, without backticks', () => {
    const now = Date.UTC(2026, 10, 28, 12);
    const raw = 'cannot write /srv/b/x.pcbak: the folder /srv/b does not exist';
    expect(explainBackupWarning(`The last scheduled backup failed: ${raw}`, { at: now + 3600_000, now }).text).toBe('The last scheduled backup failed: the backup folder does not exist any more. It tries again in 1 h.');
    const fresh = explainBackupWarning('No backup yet: run `paracord-node backup --out FILE --passphrase-file F`, or set a backup schedule.');
    expect(fresh).toEqual({ text: 'No backup yet: make one with "Back up now", or set a backup schedule.', details: '', command: 'paracord-node backup --out FILE --passphrase-file F' });
    expect(fresh.text).not.toContain('`');
  });

  it('words a refused backup folder by the node\'s reason, with its fix', () => {
    const refused = new AdminError(400, 'invalid_backup_dir', '/srv/b can be written by every user of this machine, who could replace or remove a backup there: choose a folder only you can write (or chmod o-w,g-w /srv/b)', { reason: 'writable_by_others', dir: '/srv/b' });
    expect(explainError(refused).text).toBe('Other users of this machine can write into /srv/b, so they could replace or remove a backup there. Choose a folder only you can write into, or take their write access away with the command chmod o-w,g-w /srv/b');
    expect(explainError(refused).details).toContain('every user of this machine');
    // An older node gives no reason: the general sentence.
    expect(explainError(new AdminError(400, 'invalid_backup_dir', 'x')).text).toBe(ERROR_SENTENCES.invalid_backup_dir);
  });
});

describe('members (issue #34)', () => {
  it("keeps the server's wait in the words of too many attempts", async () => {
    const { explainError, tooManyAttemptsText } = await import('./errors.ts');
    const { AdminError } = await import('../../../shared/contract/client.ts');
    expect(explainError(new AdminError(429, 'too_many_attempts', 'too many attempts, try again in 12 minutes')).text).toBe('Too many attempts to sign in. Try again in 12 minutes.');
    expect(tooManyAttemptsText('too many attempts, try again in 1 minute')).toBe('Too many attempts to sign in. Try again in 1 minute.');
    expect(tooManyAttemptsText('slow down')).toBe('Too many attempts to sign in. Wait a few minutes, then try again.');
    expect(explainError(new AdminError(401, 'bad_credentials', 'bad credentials')).text).toMatch(/do not match/);
    expect(explainError(new AdminError(404, 'link_unusable', 'x')).text).toMatch(/cannot be used/);
  });
});

describe("a member's words (issue #34)", () => {
  it('speak of the server, not of "your node", and of signing in, not of login links', async () => {
    const { explainError, wording } = await import('./errors.ts');
    const { AdminError } = await import('../../../shared/contract/client.ts');
    try {
      wording.member = true;
      // With a network the device is not blamed; without one it is said so (a user trial: "Are you online?" under "This device has a network").
      expect(explainError(new TypeError('Failed to fetch')).text).toBe('The server does not answer: it may be down or not reachable from here.');
      const online = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
      try {
        Object.defineProperty(globalThis, 'navigator', { value: { onLine: false }, configurable: true });
        expect(explainError(new TypeError('Failed to fetch')).text).toBe('This device is offline: there is no network.');
      } finally {
        if (online) Object.defineProperty(globalThis, 'navigator', online);
      }
      expect(explainError(new AdminError(401, 'session_ended', 'x')).text).toBe('You were signed out on this device. Sign in again.');
      expect(explainError(new AdminError(500, 'weird', 'x')).text).toBe('The server had a problem doing that. Try again later.');
      expect(explainError(new AdminError(403, 'owner_only', 'x')).text).toBe('Only the owner of this server can do that.');
      // Accepting an invitation whose host the owner blocked or quarantined since it was listed: the member did neither.
      for (const code of ['host_blocked', 'host_quarantined']) expect(explainError(new AdminError(403, code, 'x')).text).toMatch(/^The owner of this server /);
      // Words that spoke of the owner's node, servers and friends (a helper's UI check of the members' app).
      expect(explainError(new AdminError(409, 'name_taken', 'x')).text).toBe('That user name is taken on this server, or reserved. Choose another.');
      expect(explainError(new AdminError(503, 'node_stopping', 'x')).text).toBe('The server is restarting. Try again in a moment.');
      expect(explainError(new AdminError(502, 'peer_unreachable', 'x')).text).toBe('The server that hosts this room does not answer. Try again later.');
      expect(explainError(new AdminError(502, 'peer_unreachable', 'unknown.example could not be reached: getaddrinfo ENOTFOUND unknown.example')).text).toBe('The server that hosts this room does not answer. Try again later.');
      expect(explainError(new AdminError(502, 'peer_unreachable', 'unknown.example could not be reached: getaddrinfo ENOTFOUND unknown.example', { reason: 'name_not_found', server: 'unknown.example' })).text).toBe('The server that hosts this room does not answer. Try again later.');
      expect(explainError(new AdminError(403, 'member_disabled', 'x')).text).toMatch(/turned this account off/);
      wording.member = false;
      expect(explainError(new TypeError('Failed to fetch')).text).toBe('Your node does not answer. Is it still running?');
    } finally {
      wording.member = false;
    }
  });
});

describe('a peer that answered "not now"', () => {
  it('is not said to have refused, and nothing is promised to retry', () => {
    const paused = explainError(new AdminError(502, 'peer_refused', 'host.test refused (federation_paused): federation is paused'));
    expect(paused.text).toBe('The other server did not take it just now. The other server has paused all sending and receiving. Try again later.');
    expect(explainError(new AdminError(502, 'peer_refused', 'host.test refused: HTTP 500')).text).toBe('The other server did not take it just now. Try again later.');
    // A real refusal (a 4xx) keeps its words.
    expect(explainError(new AdminError(403, 'peer_refused', 'host.test refused (not_invited): no')).text).toBe(ERROR_SENTENCES.peer_refused);
  });
});

describe('this node\'s own 429, and the browser\'s passkey errors', () => {
  it('promise no retry that does not happen, and say how long to wait when the node says so', () => {
    expect(explainError(new AdminError(429, 'rate_limited', 'too many requests from you (@ann:h.test); retry in 12 s')).text).toBe('Too many requests from this device or network just now. Try again in 12 s.');
    expect(explainError(new AdminError(429, 'rate_limited', 'too many')).text).not.toMatch(/retries by itself/);
    // A peer's 429 on a delivery is retried by the node: its words stay.
    expect(explainCause('HTTP 429 rate_limited: slow down').text).toBe(ERROR_SENTENCES.rate_limited);
    expect(explainError(new Error('The authenticator was previously registered')).text).toBe('This device already has a passkey for your account (it is in the list).');
  });
});

describe('why a signed-in page shows the sign-in page again', () => {
  it('names expiry among the reasons for a member too (member sessions expire by themselves, no one signs them out)', async () => {
    const { SESSION_ENDED_WHY } = await import('./errors.ts');
    expect(SESSION_ENDED_WHY.member).toMatch(/expired/);
    expect(SESSION_ENDED_WHY.owner).toMatch(/expired/);
  });
});

describe('explainReachability', () => {
  const raw = 'alpha.test could not reach this node: connection refused at 10.0.0.2:7447. Testing again through gamma.test in 31 s before switching to pull mode.';
  it('says in words who could not connect, and counts down to the confirming test from when the node will run it', () => {
    expect(explainReachability(raw).text).toBe('alpha.test could not connect to this node: connection refused (the router does not forward the port, or the node is not running). Testing again through gamma.test in 31 s before switching to pull mode.');
    const now = 1_000_000;
    expect(explainReachability(raw, { at: now + 12_400, now }).text).toMatch(/Testing again through gamma\.test in 12 s before switching to pull mode\.$/);
    expect(explainReachability(raw, { at: now - 3_000, now }).text).toMatch(/Testing again through gamma\.test any moment now before switching to pull mode\.$/);
    expect(explainReachability(raw, { at: now + 600_000, now }).text).toMatch(/Testing again through gamma\.test in 10 min before switching to pull mode\.$/);
    // Without the node's time (an older node): its sentence as written.
    expect(explainReachability(raw, { at: undefined, now }).text).toMatch(/in 31 s before/);
    expect(explainReachability(raw).details).toBe(raw);
  });
});

describe('a backup passphrase file refused (passphrase-file.ts)', () => {
  it('is said with its fix, in the form and in the status, the raw reason behind details', () => {
    const raw = 'the passphrase file /home/me/pass can be changed by every user of this machine: make it yours alone (chmod 600 /home/me/pass), or copy it into a folder of your own';
    expect(explainError(new AdminError(400, 'invalid_passphrase_file', raw))).toEqual({
      text: 'The passphrase file can be changed by every user of this machine: make it yours alone with the command chmod 600 /home/me/pass, or copy it into a folder of your own.',
      details: `invalid_passphrase_file (400): ${raw}`,
    });
    expect(explainError(new AdminError(400, 'invalid_passphrase_file', 'the passphrase file /dev/zero is not a regular file')).text).toBe('The passphrase file is not a regular file (a device, a pipe or a folder): give a file holding the passphrase.');
    expect(explainError(new AdminError(400, 'invalid_passphrase_file', 'cannot read the passphrase file /x: no such file or folder')).text).toBe(ERROR_SENTENCES.invalid_passphrase_file);
    expect(explainBackupWarning(`The last scheduled backup failed: ${raw}`).text).toContain('The last scheduled backup failed: the passphrase file can be changed by every user of this machine: make it yours alone with the command chmod 600 /home/me/pass');
  });
});

