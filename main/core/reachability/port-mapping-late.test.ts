import { afterEach, describe, expect, it, vi } from 'vitest';
import { posted, removedWhileRenewing } from '../../../test/helpers/gateway-stub.ts';

/**
 * Late renewals (port-mapping.ts): a renewal answered after the removal that waited for it gave
 * up, and what it may take back. Apart from port-mapping.test.ts: each test waits through a
 * renewal's schedule, its 7-s answer and a removal's 5 s, and the two files run side by side.
 */

describe('a late renewal: what it takes back, and what it must not', () => {
  afterEach(() => vi.restoreAllMocks());

  it('a renewal answered after its removal gave up waiting is not taken back when a newer mapping was made meanwhile', async () => {
    const { post, thread, mapper, renewAsked } = await removedWhileRenewing(7449);
    expect(posted(post, 'unmap')).toBe(1);
    // A new network, say: the port is mapped again (the same external port) before the late renewal is answered (7 s after it was asked).
    expect(Date.now() - renewAsked).toBeLessThan(6_800);
    expect(await mapper.map(7449)).toMatchObject({ ok: true, mapping: { external_port: 7449 } });
    // The renewal is answered now: taking it back would delete the newer mapping's port on the router.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, renewAsked + 9_000 - Date.now())));
    expect(posted(post, 'unmap')).toBe(1);
    expect(mapper.mapping).toMatchObject({ external_port: 7449 });
    await mapper.remove();
    await thread.stop();
  }, 30_000);

  it('a late renewal is not taken back while a new mapping is being made (its port is the one being mapped)', async () => {
    // Every map is answered 3 s after it is asked: the new mapping is under way when the late renewal answers.
    process.env.PARACORD_TEST_MAP_MS = '3000';
    try {
      const { post, thread, mapper, renewAsked } = await removedWhileRenewing(7454);
      expect(posted(post, 'unmap')).toBe(1);
      const mapping = mapper.map(7454);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, renewAsked + 8_000 - Date.now())));
      // (Before: the renewal answered at 7 s found no mapping and took its port back, the one being mapped.)
      expect(posted(post, 'unmap')).toBe(1);
      expect(await mapping).toMatchObject({ ok: true, mapping: { external_port: 7454 } });
      await mapper.remove();
      await thread.stop();
    } finally {
      delete process.env.PARACORD_TEST_MAP_MS;
    }
  }, 40_000);

  it('a late renewal put off while a new mapping was made is taken back once that mapping fails', async () => {
    process.env.PARACORD_TEST_MAP_MS = '3000';
    // Maps asked from 10 s on fail: the first (at 0 s) is made, the one after the removal (at ~14 s) is refused.
    process.env.PARACORD_TEST_MAP_FAILS_FROM = String(Date.now() + 10_000);
    try {
      const { post, thread, mapper, renewAsked } = await removedWhileRenewing(7457);
      expect(posted(post, 'unmap')).toBe(1);
      const mapping = mapper.map(7457);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, renewAsked + 8_000 - Date.now())));
      expect(posted(post, 'unmap')).toBe(1);
      // (Before: the take-back skipped for the mapping under way was never done, and the late renewal's forward stood for its lease.)
      expect(await mapping).toMatchObject({ ok: false });
      await vi.waitFor(() => expect(posted(post, 'unmap')).toBe(2), { timeout: 2_000, interval: 20 });
      await thread.stop();
    } finally {
      delete process.env.PARACORD_TEST_MAP_MS;
      delete process.env.PARACORD_TEST_MAP_FAILS_FROM;
    }
  }, 40_000);

  it("removing a newer mapping does not name an older mapping's late renewal's port", async () => {
    process.env.PARACORD_TEST_RENEWED_AT = '198.51.100.7:7470';
    try {
      const { post, thread, mapper } = await removedWhileRenewing(7458);
      expect(await mapper.map(7458)).toMatchObject({ ok: true, mapping: { external_port: 7458 } });
      const removing = mapper.remove();
      await vi.waitFor(() => expect(posted(post, 'unmap')).toBe(2), { timeout: 2_000, interval: 20 });
      const unmaps = () => post.mock.calls.map((call) => call[0] as { op?: string; request?: { externalPort?: number } }).filter((m) => m.op === 'unmap').map((m) => m.request?.externalPort);
      // (Before: the newer mapping's removal waited for the older one's renewal and named its port, 7470.)
      expect(unmaps()).toEqual([7458, 7458]);
      // The older mapping's late renewal is taken back by itself when it is answered.
      await vi.waitFor(() => expect(unmaps()).toEqual([7458, 7458, 7470]), { timeout: 5_000, interval: 50 });
      await thread.stop();
      await removing;
    } finally {
      delete process.env.PARACORD_TEST_RENEWED_AT;
    }
  }, 40_000);

  it('a late renewal the router answered at another port is taken back even though a newer mapping stands (at its own port), over UPnP', async () => {
    process.env.PARACORD_TEST_RENEWED_AT = '198.51.100.7:7471';
    process.env.PARACORD_TEST_MAP_UPNP = '1';
    try {
      const { post, thread, mapper } = await removedWhileRenewing(7459);
      expect(await mapper.map(7459)).toMatchObject({ ok: true, mapping: { external_port: 7459 } });
      const unmaps = () => post.mock.calls.map((call) => call[0] as { op?: string; request?: { externalPort?: number } }).filter((m) => m.op === 'unmap').map((m) => m.request?.externalPort);
      // (Before: a newer mapping standing, the late renewal's forward at 7471 was left for its lease.)
      await vi.waitFor(() => expect(unmaps()).toEqual([7459, 7471]), { timeout: 5_000, interval: 50 });
      expect(mapper.mapping).toMatchObject({ external_port: 7459 });
      await thread.stop();
      await mapper.remove();
    } finally {
      delete process.env.PARACORD_TEST_RENEWED_AT;
      delete process.env.PARACORD_TEST_MAP_UPNP;
    }
  }, 40_000);

  it('over NAT-PMP it is not taken back while a newer mapping stands: the removal would name our internal port, the newer mapping\'s too', async () => {
    process.env.PARACORD_TEST_RENEWED_AT = '198.51.100.7:7472';
    try {
      const { post, thread, mapper, renewAsked } = await removedWhileRenewing(7460);
      expect(await mapper.map(7460)).toMatchObject({ ok: true, mapping: { external_port: 7460 } });
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, renewAsked + 9_000 - Date.now())));
      expect(posted(post, 'unmap')).toBe(1);
      expect(mapper.mapping).toMatchObject({ external_port: 7460 });
      await thread.stop();
      await mapper.remove();
    } finally {
      delete process.env.PARACORD_TEST_RENEWED_AT;
    }
  }, 40_000);

});
