/**
 * How long a message takes in the web UI, click to "sent" on screen, over the admin stream and
 * over HTTP only (the stream refused), alternating, in one run: the user-felt effect of the UI's
 * stream transport (issue #17). Not part of `npm run bench` (it needs Chromium); run after
 * `npm run build`:
 *   node --experimental-strip-types --no-warnings test/bench/ui-send-probe.ts [messages per round] [rounds]
 */
import { chromium, type Page } from 'playwright-core';
import { NodeProcess } from '../helpers/node-process.ts';
import { removeTempDirs } from '../helpers/temp-dir.ts';

const perRound = Number(process.argv[2] ?? 40);
const rounds = Number(process.argv[3] ?? 3);
const node = new NodeProcess({ serverName: 'probe.test' });
await node.start();
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] });

async function page(streamAllowed: boolean, room: string): Promise<Page> {
  const context = await browser.newContext();
  if (!streamAllowed) await context.routeWebSocket(/\/_paracord\/admin\/v1\/stream$/, (ws) => void ws.close());
  const p = await context.newPage();
  const link = await node.admin<{ login_url: string }>('POST', '/login-links', {});
  await p.goto(link.body.login_url);
  await p.getByRole('link', { name: 'Rooms' }).click();
  await p.getByRole('link', { name: room }).click();
  await p.getByRole('heading', { name: room }).waitFor();
  return p;
}

async function sendAll(p: Page, label: string): Promise<number[]> {
  const times: number[] = [];
  // Two warm-up messages (the stream opens on the first calls).
  for (let i = 0; i < perRound + 2; i++) {
    const body = `${label} ${i} ${Math.random().toString(36).slice(2)}`;
    await p.getByTestId('composer').fill(body);
    // Timed in the page (the browser's clock, no driver round trips): from the click to the DOM
    // showing the message as the node's (not the "sending" placeholder).
    await p.evaluate((text) => {
      const w = window as unknown as { probe: { click?: number; done?: number } };
      w.probe = {};
      document.addEventListener('click', () => (w.probe.click = performance.now()), { capture: true, once: true });
      const seen = () => [...document.querySelectorAll('[data-testid="message"]')].some((m) => m.textContent?.includes(text)) && !document.querySelector('[data-testid="outgoing"]');
      const observer = new MutationObserver(() => {
        if (w.probe.click !== undefined && seen()) {
          w.probe.done = performance.now();
          observer.disconnect();
        }
      });
      observer.observe(document.body, { subtree: true, childList: true, characterData: true });
    }, body);
    await p.getByRole('button', { name: 'Send' }).click();
    const handle = await p.waitForFunction(() => {
      const t = (window as unknown as { probe: { click?: number; done?: number } }).probe;
      return t.done !== undefined ? t.done - t.click! : undefined;
    });
    if (i >= 2) times.push((await handle.jsonValue()) as number);
  }
  return times;
}

const pct = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
const results: Record<string, number[]> = { stream: [], http: [] };
for (const name of ['stream room', 'http room']) await node.admin('POST', '/rooms', { name });
const pages = { stream: await page(true, 'stream room'), http: await page(false, 'http room') };
// PROBE_PROFILE=file.cpuprofile: the stream page's JavaScript profile over the whole run.
const profileTo = process.env.PROBE_PROFILE;
const cdp = profileTo ? await pages.stream.context().newCDPSession(pages.stream) : null;
if (cdp) {
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
  await cdp.send('Profiler.start');
}
for (let r = 0; r < rounds; r++) {
  for (const way of r % 2 === 0 ? (['stream', 'http'] as const) : (['http', 'stream'] as const)) {
    const t = await sendAll(pages[way], `${way} r${r}`);
    results[way]!.push(...t);
    console.log(`round ${r + 1} ${way}: p50 ${pct(t, 0.5).toFixed(1)} ms, p90 ${pct(t, 0.9).toFixed(1)} ms`);
  }
}
if (cdp && profileTo) {
  const { profile } = await cdp.send('Profiler.stop');
  (await import('node:fs')).writeFileSync(profileTo, JSON.stringify(profile));
}
for (const way of ['stream', 'http']) console.log(`${way}: ${results[way]!.length} messages, p50 ${pct(results[way]!, 0.5).toFixed(1)} ms, p90 ${pct(results[way]!, 0.9).toFixed(1)} ms, p99 ${pct(results[way]!, 0.99).toFixed(1)} ms`);
await browser.close();
await node.stop();
removeTempDirs();
