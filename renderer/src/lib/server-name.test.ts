import { describe, expect, it } from 'vitest';
import { serverNameWarning } from './server-name.ts';

describe('a server name friends elsewhere cannot reach is pointed out before it is chosen for good', () => {
  it('says so for a name without a dot, a local network\'s name, or an address', () => {
    for (const name of ['gamma', 'localhost', 'gamma:7447', 'pi.local', 'box.lan', 'nas.home.arpa', 'x.localhost']) expect(serverNameWarning(name), name).toMatch(/^Only computers on your own network can find a server named /);
    for (const name of ['127.0.0.1', '192.168.1.20:7447', '[::1]', '[2001:db8::1]:7447']) expect(serverNameWarning(name), name).toMatch(/^This is an address, not a name/);
  });

  it('says nothing for an internet name, or before anything is typed', () => {
    for (const name of ['chat.example.org', 'chat.example.org:7447', 'paracord.home-server.net', '']) expect(serverNameWarning(name), name).toBe('');
  });
});
