/**
 * A tiny authoritative DNS server on 127.0.0.1 (UDP, ephemeral port) for the Prosody comparison.
 * Prosody resolves s2s peers with libunbound; `unbound = { forward = "127.0.0.1@<port>" }` in its
 * config points that resolver here, so a.test and b.test resolve to 127.0.0.1 with SRV records
 * naming each server's ephemeral s2s port, without editing any system file.
 */
import { createSocket, type Socket } from 'node:dgram';

const TYPE_A = 1;
const TYPE_SRV = 33;

export interface DnsZone {
  /** name → IPv4 address */
  a: Map<string, string>;
  /** `_xmpp-server._tcp.<host>` → { port, target } */
  srv: Map<string, { port: number; target: string }>;
}

function encodeName(name: string): Buffer {
  const parts = name.replace(/\.$/, '').split('.').filter(Boolean);
  return Buffer.concat([...parts.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p, 'ascii')])), Buffer.from([0])]);
}

/** Answers one query; returns undefined for packets that are not a single plain question. */
export function answer(query: Buffer, zone: DnsZone): Buffer | undefined {
  if (query.length < 12 || query.readUInt16BE(4) !== 1) return undefined;
  let offset = 12;
  const labels: string[] = [];
  while (offset < query.length) {
    const length = query[offset]!;
    if (length === 0) break;
    if (length > 63) return undefined; // no compression in a question
    labels.push(query.subarray(offset + 1, offset + 1 + length).toString('ascii'));
    offset += 1 + length;
  }
  if (offset + 5 > query.length) return undefined;
  const questionEnd = offset + 5;
  const qtype = query.readUInt16BE(offset + 1);
  const name = labels.join('.').toLowerCase();
  const answers: Buffer[] = [];
  const known = zone.a.has(name) || zone.srv.has(name);
  const record = (type: number, rdata: Buffer) => {
    const head = Buffer.alloc(12);
    head.writeUInt16BE(0xc00c, 0); // pointer to the question's name
    head.writeUInt16BE(type, 2);
    head.writeUInt16BE(1, 4); // IN
    head.writeUInt32BE(60, 6);
    head.writeUInt16BE(rdata.length, 10);
    answers.push(head, rdata);
  };
  if (qtype === TYPE_A && zone.a.has(name)) record(TYPE_A, Buffer.from(zone.a.get(name)!.split('.').map(Number)));
  if (qtype === TYPE_SRV && zone.srv.has(name)) {
    const { port, target } = zone.srv.get(name)!;
    const fixed = Buffer.alloc(6);
    fixed.writeUInt16BE(0, 0);
    fixed.writeUInt16BE(0, 2);
    fixed.writeUInt16BE(port, 4);
    record(TYPE_SRV, Buffer.concat([fixed, encodeName(target)]));
  }
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0);
  // QR, AA, RD copied, RA; NXDOMAIN for names outside the zone.
  header.writeUInt16BE(0x8000 | 0x0400 | (query.readUInt16BE(2) & 0x0100) | 0x0080 | (known ? 0 : 3), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length / 2, 6);
  return Buffer.concat([header, query.subarray(12, questionEnd), ...answers]);
}

export class DnsServer {
  readonly zone: DnsZone = { a: new Map(), srv: new Map() };
  private socket: Socket | undefined;
  port = 0;

  async start(): Promise<this> {
    const socket = createSocket('udp4');
    this.socket = socket;
    socket.on('message', (message, remote) => {
      const reply = answer(message, this.zone);
      if (reply) socket.send(reply, remote.port, remote.address);
    });
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    this.port = socket.address().port;
    return this;
  }

  /** `host` at 127.0.0.1 with its XMPP s2s service on `s2sPort`. */
  addXmppHost(host: string, s2sPort: number): void {
    this.zone.a.set(host, '127.0.0.1');
    this.zone.srv.set(`_xmpp-server._tcp.${host}`, { port: s2sPort, target: host });
  }

  async stop(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}
