/**
 * A server name that is valid but that friends elsewhere cannot reach, said before it is chosen
 * for good (the UI check of 2026-11-27: the wizard took "localhost", "gamma" and "127.0.0.1"
 * without a word, though the name "cannot be changed later"). Not a refusal: on a home network,
 * or between test nodes, such a name works. Pure: lib/server-name.test.ts.
 */
import { serverNameHost } from '../../../shared/identifiers.ts';

/** Names only a local network (or this computer) resolves. */
const LOCAL_SUFFIXES = ['localhost', 'local', 'lan', 'home', 'internal', 'home.arpa', 'localdomain'];

export function serverNameWarning(name: string): string {
  const host = serverNameHost(name.trim().toLowerCase());
  if (host === '') return '';
  if (/^\[.*\]$/.test(host) || /^\d{1,3}(\.\d{1,3}){3}$/.test(host)) {
    return 'This is an address, not a name: friends reach your server only while the address stays yours, and the name cannot change later. A domain name you own (such as chat.example.org) can move with you.';
  }
  const local = !host.includes('.') || LOCAL_SUFFIXES.some((suffix) => host === suffix || host.endsWith(`.${suffix}`));
  return local ? `Only computers on your own network can find a server named ${host}: friends elsewhere need a name on the internet, such as chat.example.org.` : '';
}
