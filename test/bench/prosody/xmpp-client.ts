/**
 * A minimal raw XMPP client for the benchmark (issue #17): TCP to 127.0.0.1, SASL PLAIN without
 * TLS, stream restart, resource bind. Just enough to pipeline chat messages as one user and
 * count them as another; not a general XMPP library (no XML parser: it scans for the few
 * elements it needs, which the servers under test emit in a fixed form).
 */
import { connect, type Socket } from 'node:net';

const streamHeader = (domain: string) =>
  `<?xml version='1.0'?><stream:stream to='${domain}' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`;

export class XmppClient {
  private socket!: Socket;
  private buffer = '';
  private waiter: { pattern: RegExp; resolve: (m: RegExpExecArray) => void; reject: (e: Error) => void } | undefined;
  /** Called with each received message body and the time it arrived (performance.now()). */
  onBody: ((body: string, at: number) => void) | undefined;
  readonly jid: string;

  private constructor(jid: string) {
    this.jid = jid;
  }

  static async login(port: number, user: string, domain: string, password: string, resource = 'bench'): Promise<XmppClient> {
    const client = new XmppClient(`${user}@${domain}/${resource}`);
    await client.open(port);
    client.socket.write(streamHeader(domain));
    await client.wait(/<\/stream:features>/);
    const auth = Buffer.from(`\0${user}\0${password}`).toString('base64');
    client.socket.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${auth}</auth>`);
    const outcome = await client.wait(/<(success|failure)[\s\S]*?(?:\/>|<\/\1>)/);
    if (outcome[1] !== 'success') throw new Error(`SASL PLAIN refused for ${user}@${domain}: ${outcome[0]}`);
    client.socket.write(streamHeader(domain)); // stream restart after SASL
    await client.wait(/<\/stream:features>/);
    client.socket.write(`<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`);
    const bound = await client.wait(/<iq[^>]*id=['"]bind1['"][\s\S]*?(?:<\/iq>|\/>)/);
    if (!/type=['"]result['"]/.test(bound[0])) throw new Error(`bind failed: ${bound[0]}`);
    return client;
  }

  private open(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      this.socket = socket;
      socket.setNoDelay(true);
      socket.setEncoding('utf8');
      socket.once('connect', () => resolve());
      socket.on('error', (e) => {
        reject(e);
        this.waiter?.reject(e);
      });
      socket.on('data', (chunk: string) => this.received(chunk));
    });
  }

  private received(chunk: string): void {
    const at = performance.now();
    this.buffer += chunk;
    if (this.waiter) {
      const match = this.waiter.pattern.exec(this.buffer);
      if (match) {
        const { resolve } = this.waiter;
        this.waiter = undefined;
        this.buffer = this.buffer.slice(match.index + match[0].length);
        resolve(match);
      }
      return;
    }
    if (!this.onBody) {
      this.buffer = '';
      return;
    }
    const end = this.buffer.lastIndexOf('</message>');
    if (end < 0) return;
    const complete = this.buffer.slice(0, end);
    this.buffer = this.buffer.slice(end + '</message>'.length);
    const bodies = /<body>([^<]*)<\/body>/g;
    let m;
    while ((m = bodies.exec(complete))) this.onBody(m[1]!, at);
  }

  private wait(pattern: RegExp, ms = 10_000): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`XMPP: timed out waiting for ${pattern} (have: ${this.buffer.slice(0, 500)})`)), ms);
      this.waiter = {
        pattern,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.received('');
    });
  }

  /** Available presence: a bare-JID chat message is delivered to available resources only. */
  available(): void {
    this.socket.write('<presence/>');
  }

  /** Queues one chat message; resolves at once unless the socket's buffer is full (back-pressure). */
  send(to: string, body: string): Promise<void> | undefined {
    const ok = this.socket.write(`<message to='${to}' type='chat'><body>${body}</body></message>`);
    return ok ? undefined : new Promise((resolve) => this.socket.once('drain', () => resolve()));
  }

  close(): void {
    if (this.socket.destroyed) return;
    this.socket.end('</stream:stream>');
    setTimeout(() => this.socket.destroy(), 500).unref();
  }
}
