import { describe, expect, it } from 'vitest';
import { assetsIn, shellAction, shellKey } from './shell-cache.ts';

const scope = 'https://home.example/app/';
const get = (url: string, mode = 'cors') => ({ method: 'GET', url, mode });

describe("the member app's service worker (issue #34 item 5)", () => {
  it('keeps the app shell: its pages, built assets, manifest and icon', () => {
    expect(shellAction(get('https://home.example/app/', 'navigate'), scope)).toBe('shell');
    expect(shellAction(get('https://home.example/app/index.html'), scope)).toBe('shell');
    expect(shellAction(get('https://home.example/app/manifest.webmanifest'), scope)).toBe('shell');
    expect(shellAction(get('https://home.example/app/icon.svg'), scope)).toBe('shell');
    expect(shellAction(get('https://home.example/app/assets/index-3f2a.js'), scope)).toBe('asset');
    expect(shellAction(get('https://home.example/app/assets/index-3f2a.css'), scope)).toBe('asset');
  });

  it('never touches the API, other origins, changes or anything else', () => {
    expect(shellAction(get('https://home.example/_paracord/client/v1/rooms'), scope)).toBe('pass');
    expect(shellAction(get('https://home.example/_paracord/client/v1/rooms/!r:h/messages?limit=50'), scope)).toBe('pass');
    expect(shellAction(get('https://home.example/_paracord/client/v1/me', 'navigate'), scope)).toBe('pass');
    expect(shellAction(get('https://home.example/app/_paracord/client/v1/me'), scope)).toBe('pass');
    expect(shellAction({ method: 'POST', url: 'https://home.example/app/', mode: 'cors' }, scope)).toBe('pass');
    expect(shellAction(get('https://other.example/app/assets/x.js'), scope)).toBe('pass');
    expect(shellAction(get('https://home.example/app/sw.js'), scope)).toBe('pass');
    expect(shellAction(get('https://home.example/app/assets/nested/x.js'), scope)).toBe('pass');
    expect(shellAction(get('not a url'), scope)).toBe('pass');
  });

  it('keeps one index.html for every page of the app', () => {
    expect(shellKey('https://home.example/app/?x=1', scope, true)).toBe('https://home.example/app/index.html');
    expect(shellKey('https://home.example/app/', scope, false)).toBe('https://home.example/app/index.html');
    expect(shellKey('https://home.example/app/icon.svg?v=2', scope, false)).toBe('https://home.example/app/icon.svg');
  });

  it("reads the assets an index.html loads (older builds' are dropped)", () => {
    const html = '<script type="module" crossorigin src="./assets/index-ab12.js"></script><link rel="stylesheet" href="./assets/index-cd34.css"><link rel="modulepreload" href="./assets/vendor-ef.js">';
    expect([...assetsIn(html, scope)].sort()).toEqual(['https://home.example/app/assets/index-ab12.js', 'https://home.example/app/assets/index-cd34.css', 'https://home.example/app/assets/vendor-ef.js']);
  });
});
