import { describe, expect, it } from 'vitest';
import { detailLines, trayProblemWords } from './tray-problem.ts';

describe('trayProblemWords: a problem of the desktop app in the tray\'s words', () => {
  it('says why the node could not start from its cause, and keeps the raw text as details', () => {
    const start = (raw: string) => trayProblemWords({ source: 'start', raw });
    expect(start('listen EADDRINUSE: address already in use 0.0.0.0:8448')).toEqual({ text: 'Could not start: another program uses its port', details: 'listen EADDRINUSE: address already in use 0.0.0.0:8448' });
    expect(start('listen EACCES: permission denied 0.0.0.0:443').text).toBe('Could not start: it may not use its port or its data folder');
    expect(start('ENOSPC: no space left on device, write').text).toBe('Could not start: the disk is full');
    expect(start('listen EADDRNOTAVAIL: address not available 10.9.9.9:8448').text).toBe('Could not start: its network address is not on this computer');
    // The node's own words for a listener that cannot start (node/listeners.ts) end with the code.
    expect(start('cannot listen on [::]:7447 (--listen): another program is using that port (choose another port, or stop that program) [EADDRINUSE]').text).toBe('Could not start: another program uses its port');
    expect(start('cannot listen on 0.0.0.0:443 (--listen): this user may not use that port (ports below 1024 need privileges: choose 1024 or more) [EACCES]').text).toBe('Could not start: it may not use its port or its data folder');
    expect(start('SqliteError: near "x": syntax error')).toEqual({ text: 'Could not start — see Details or the logs folder', details: 'SqliteError: near "x": syntax error' });
  });

  it('words the keychain warning and a node that does not answer by where they were met', () => {
    expect(trayProblemWords({ source: 'key_storage', raw: 'No system keychain is available, …' }).text).toBe('Private key not encrypted (no system keychain)');
    expect(trayProblemWords({ source: 'status', raw: 'node stopping' })).toEqual({ text: 'The node does not answer', details: 'node stopping' });
  });
});

describe('detailLines: raw text as menu lines', () => {
  it('wraps at word boundaries, cuts a word longer than a line, and ends with … past the last line', () => {
    expect(detailLines('aaa bbb ccc', 7)).toEqual(['aaa bbb', 'ccc']);
    expect(detailLines('x'.repeat(10), 4)).toEqual(['xxxx', 'xxxx', 'xx']);
    expect(detailLines('one two three four', 3, 2)).toEqual(['one', 'tw…']);
    expect(detailLines('')).toEqual([]);
  });
});
