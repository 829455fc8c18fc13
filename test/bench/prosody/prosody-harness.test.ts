/**
 * The harness of `npm run bench -- --vs prosody` (issue #17) is itself tested, so a wrong number in
 * the comparison cannot come from a broken setup: the bench's DNS answers, and (when Debian's
 * Prosody is installed) two real Prosody servers federating through it with the raw client.
 * No timings are asserted.
 */
import { describe, expect, it } from '../../helpers/fixtures.ts';
import { answer } from './dns.ts';
import { prosodyAvailable, startPair } from './servers.ts';
import { XmppClient } from './xmpp-client.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

function query(name: string, type: number): Buffer {
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  const header = Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(type, 0);
  tail.writeUInt16BE(1, 2);
  return Buffer.concat([header, ...labels, Buffer.from([0]), tail]);
}

describe('the bench DNS server', () => {
  const zone = { a: new Map([['b.test', '127.0.0.1']]), srv: new Map([['_xmpp-server._tcp.b.test', { port: 40123, target: 'b.test' }]]) };

  it('answers A and SRV for its names, keeping the query id', () => {
    const a = answer(query('B.test', 1), zone)!;
    expect(a.readUInt16BE(0)).toBe(0x1234);
    expect(a.readUInt16BE(2) & 0x000f).toBe(0); // NOERROR
    expect(a.readUInt16BE(6)).toBe(1);
    expect([...a.subarray(a.length - 4)]).toEqual([127, 0, 0, 1]);
    const srv = answer(query('_xmpp-server._tcp.b.test', 33), zone)!;
    expect(srv.readUInt16BE(6)).toBe(1);
    expect(srv.includes(Buffer.from([0x9c, 0xbb]))).toBe(true); // port 40123
  });

  it('says NXDOMAIN for other names and ignores malformed packets', () => {
    const other = answer(query('c.test', 1), zone)!;
    expect(other.readUInt16BE(2) & 0x000f).toBe(3);
    expect(other.readUInt16BE(6)).toBe(0);
    expect(answer(Buffer.from([1, 2, 3]), zone)).toBeUndefined();
    expect(answer(query('b.test', 28), zone)!.readUInt16BE(6)).toBe(0); // AAAA: none
  });
});

describe.skipIf(!prosodyAvailable())('two Prosody servers from temp configs (needs apt-get install prosody)', () => {
  it('federate on 127.0.0.1 and deliver every message from a@a.test to b@b.test', async () => {
    const pair = await startPair(tempDir('prosody-harness-'), 'plain');
    try {
      const a = await XmppClient.login(pair.a.c2sPort, 'a', 'a.test', 'bench-a');
      const b = await XmppClient.login(pair.b.c2sPort, 'b', 'b.test', 'bench-b');
      await expect(XmppClient.login(pair.a.c2sPort, 'a', 'a.test', 'wrong')).rejects.toThrow(/SASL PLAIN refused/);
      b.available();
      const bodies: string[] = [];
      b.onBody = (body) => bodies.push(body);
      await new Promise((r) => setTimeout(r, 200));
      for (let i = 0; i < 20; i++) await a.send('b@b.test', `${i} 0`);
      const deadline = Date.now() + 20_000;
      while (bodies.length < 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(bodies).toEqual(Array.from({ length: 20 }, (_, i) => `${i} 0`));
      a.close();
      b.close();
    } finally {
      await pair.stop();
    }
  });
});
