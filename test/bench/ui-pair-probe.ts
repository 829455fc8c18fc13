/**
 * User to user in the web UI (issue #17, "speed as users feel it"): user A clicks Send in A's
 * node's UI, user B watches the room in B's node's UI, two real peered nodes, two pages of one
 * Chromium. Timed from A's click to B's DOM showing the message, both with the machine's clock
 * (`performance.timeOrigin + performance.now()` in each page). Not part of `npm run bench` (it
 * needs Chromium); run after `npm run build`:
 *   node --experimental-strip-types --no-warnings test/bench/ui-pair-probe.ts [messages] [gap ms]
 */
import { chromium, type Page } from 'playwright-core';
import { peeredNodes, stopAll, type NodeProcess } from '../helpers/node-process.ts';
import { removeTempDirs } from '../helpers/temp-dir.ts';
import { cpuSeconds } from './prosody/compare.ts';

const count = Number(process.argv[2] ?? 60);
const gapMs = Number(process.argv[3] ?? 300);
const [a, b] = (await peeredNodes('a.test', 'b.test')) as [NodeProcess, NodeProcess];
const roomId = (await a.admin<{ room_id: string }>('POST', '/rooms', { name: 'pair' })).body.room_id;
await a.admin('POST', `/rooms/${encodeURIComponent(roomId)}/invites`, { user_id: '@owner:b.test' });
for (let i = 0; ; i++) {
  const invites = (await b.admin<{ invites: Array<{ invite_id: string; room_id: string }> }>('GET', `/invites?user_id=${encodeURIComponent('@owner:b.test')}`)).body.invites;
  const invite = invites.find((x) => x.room_id === roomId);
  if (invite) {
    await b.admin('POST', `/invites/${invite.invite_id}/accept`, { user_id: '@owner:b.test' });
    break;
  }
  if (i > 100) throw new Error('no invite arrived');
  await new Promise((resolve) => setTimeout(resolve, 50));
}
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] });

async function roomPage(node: NodeProcess): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  // Where the time goes: when each page last heard a notification (EventSource) and an answer (WebSocket).
  await page.addInitScript(() => {
    const w = window as unknown as { heard: { event?: number; answer?: number; page?: number }; want?: string; asked: Record<string, number> };
    w.heard = {};
    // What each page asks its node for (operations over the stream, HTTP requests by path).
    w.asked = {};
    const ask = (what: string) => (w.asked[what] = (w.asked[what] ?? 0) + 1);
    const nativeFetch = window.fetch.bind(window);
    window.fetch = (input: RequestInfo | URL, init?: RequestInit) => {
      ask(`http ${init?.method ?? 'GET'} ${new URL(String(input instanceof Request ? input.url : input), location.href).pathname.replace(/![^/]+|%21[^/]+/g, ':room')}`);
      return nativeFetch(input, init);
    };
    const at = () => performance.timeOrigin + performance.now();
    const NativeEventSource = window.EventSource;
    window.EventSource = class extends NativeEventSource {
      constructor(url: string | URL, init?: EventSourceInit) {
        super(url, init);
        this.addEventListener('room', (e) => {
          w.heard.event ??= at();
          ask(`heard room ${(JSON.parse(String((e as MessageEvent).data)) as { event_type: string }).event_type}`);
        });
        for (const type of ['status', 'delivery', 'invite']) this.addEventListener(type, () => ask(`heard ${type}`));
      }
    } as typeof EventSource;
    const NativeWebSocket = window.WebSocket;
    window.WebSocket = class extends NativeWebSocket {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols);
        const send = this.send.bind(this);
        this.send = (data: Parameters<WebSocket["send"]>[0]) => {
          const op = /"op":"([A-Za-z]+)"/.exec(String(data))?.[1];
          if (op) ask(op);
          send(data);
        };
        this.addEventListener('message', (e) => {
          // The send's answer: {"id", "ok": true, "result": {"event_id"}} and nothing more.
          if (/^\{"id":\d+,"ok":true,"result":\{"event_id":"[^"]+"\}\}$/.test(String(e.data))) w.heard.answer ??= at();
          // The first answer that carries the message's text (B's page of messages).
          if (w.want && String(e.data).includes(w.want)) w.heard.page ??= at();
        });
      }
    } as typeof WebSocket;
  });
  const link = await node.admin<{ login_url: string }>('POST', '/login-links', {});
  await page.goto(link.body.login_url);
  await page.getByRole('link', { name: 'Rooms' }).click();
  await page.getByRole('link', { name: 'pair' }).click();
  await page.getByRole('heading', { name: 'pair' }).waitFor();
  return page;
}
const [pageA, pageB] = [await roomPage(a), await roomPage(b)];

const times: number[] = [];
let cpuB0 = 0;
let cpuA0 = 0;
const parts: Array<{ answered: number; notified: number; fetched: number; shown: number }> = [];
for (let i = 0; i < count + 3; i++) {
  const body = `pair ${i} ${Math.random().toString(36).slice(2)}`;
  await pageB.evaluate((text) => {
    const w = window as unknown as { seenAt?: number; want?: string };
    delete w.seenAt;
    w.want = text;
    const seen = () => [...document.querySelectorAll('[data-testid="message"]')].some((m) => m.textContent?.includes(text));
    const observer = new MutationObserver(() => {
      if (seen()) {
        w.seenAt = performance.timeOrigin + performance.now();
        observer.disconnect();
      }
    });
    observer.observe(document.body, { subtree: true, childList: true, characterData: true });
  }, body);
  for (const page of [pageA, pageB]) await page.evaluate(() => ((window as unknown as { heard: object }).heard = {}));
  await pageA.getByTestId('composer').fill(body);
  await pageA.evaluate(() => {
    const w = window as unknown as { clickAt?: number };
    document.addEventListener('click', () => (w.clickAt = performance.timeOrigin + performance.now()), { capture: true, once: true });
  });
  await pageA.getByRole('button', { name: 'Send' }).click();
  const seenAt = (await (await pageB.waitForFunction(() => (window as unknown as { seenAt?: number }).seenAt)).jsonValue()) as number;
  const clickAt = (await pageA.evaluate(() => (window as unknown as { clickAt: number }).clickAt)) as number;
  const answerAt = (await pageA.evaluate(() => (window as unknown as { heard: { answer?: number } }).heard.answer ?? NaN)) as number;
  const eventAt = (await pageB.evaluate(() => (window as unknown as { heard: { event?: number } }).heard.event ?? NaN)) as number;
  const pageAt = (await pageB.evaluate(() => (window as unknown as { heard: { page?: number } }).heard.page ?? NaN)) as number;
  // Three to warm up (the stream opens, code paths compile).
  if (i === 2) {
    for (const page of [pageA, pageB]) await page.evaluate(() => ((window as unknown as { asked: object }).asked = {}));
    cpuB0 = cpuSeconds(b.child.pid!);
    cpuA0 = cpuSeconds(a.child.pid!);
  }
  if (i >= 3) {
    times.push(seenAt - clickAt);
    parts.push({ answered: answerAt - clickAt, notified: eventAt - clickAt, fetched: pageAt - eventAt, shown: seenAt - eventAt });
  }
  await new Promise((resolve) => setTimeout(resolve, gapMs));
}
const pct = (q: number) => [...times].sort((x, y) => x - y)[Math.min(times.length - 1, Math.floor(q * times.length))]!;
console.log(`A's click to B's screen: ${times.length} messages, p50 ${pct(0.5).toFixed(1)} ms, p90 ${pct(0.9).toFixed(1)} ms, p99 ${pct(0.99).toFixed(1)} ms`);
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
console.log(
  `  medians: A's page has the node's answer ${median(parts.map((p) => p.answered)).toFixed(1)} ms after the click; ` +
    `B's page hears the room notification ${median(parts.map((p) => p.notified)).toFixed(1)} ms after it; B's page has the message from its node ${median(parts.map((p) => p.fetched)).toFixed(1)} ms after that, and shows it ${median(parts.map((p) => p.shown)).toFixed(1)} ms after the notification`,
);
// Everything B's node did for each message: the ingest, and the reads of B's page (and its read marker).
console.log(`  A's node CPU per message, its page's reads included: ${(((cpuSeconds(a.child.pid!) - cpuA0) * 1000) / times.length).toFixed(1)} ms`);
console.log(`  B's node CPU per message, the reads its page made included: ${(((cpuSeconds(b.child.pid!) - cpuB0) * 1000) / times.length).toFixed(1)} ms (10 ms ticks)`);
for (const [name, page] of [['A', pageA], ['B', pageB]] as const) {
  const asked = (await page.evaluate(() => (window as unknown as { asked: Record<string, number> }).asked)) as Record<string, number>;
  const per = Object.entries(asked).sort((x, y) => y[1] - x[1]).map(([what, n]) => `${what} ${(n / times.length).toFixed(2)}`);
  console.log(`  ${name}'s page asked per message: ${per.join(', ') || 'nothing'}`);
}
await browser.close();
await stopAll([a, b]);
removeTempDirs();
