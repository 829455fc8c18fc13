import { describe, expect, it } from 'vitest';
import { launchdPlist, systemdQuote, systemdSystemUnit, systemdUserUnit, userUnitPath } from './units.ts';

const base = { nodePath: '/usr/bin/node', cliPath: '/opt/paracord/bin/paracord-node.js', dataDir: '/var/lib/paracord-node' };

function directives(unit: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const line of unit.split('\n')) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (match) map.set(match[1]!, [...(map.get(match[1]!) ?? []), match[2]!]);
  }
  return map;
}

describe('systemd units', () => {
  it('the system unit is hardened, runs as a dedicated user and writes only its data folder', () => {
    const d = directives(systemdSystemUnit(base));
    expect(d.get('Type')).toEqual(['exec']);
    expect(d.get('User')).toEqual(['paracord']);
    expect(d.get('ExecStart')).toEqual(['/usr/bin/node /opt/paracord/bin/paracord-node.js serve --data /var/lib/paracord-node']);
    for (const [key, value] of [['NoNewPrivileges', 'yes'], ['ProtectSystem', 'strict'], ['ProtectHome', 'yes'], ['PrivateTmp', 'yes'], ['Restart', 'on-failure'], ['ReadWritePaths', '/var/lib/paracord-node'], ['StateDirectory', 'paracord-node'], ['CapabilityBoundingSet', '']]) {
      expect(d.get(key!), key).toEqual([value]);
    }
    expect(d.has('MemoryDenyWriteExecute')).toBe(false);
    expect(d.get('WantedBy')).toEqual(['multi-user.target']);
  });

  it('keeps home readable when node or the program live there, and allows a low port only when asked', () => {
    const d = directives(systemdSystemUnit({ ...base, nodePath: '/home/ann/.nvm/versions/node/v22/bin/node', dataDir: '/srv/paracord', serveArgs: ['--listen', '0.0.0.0:443'], user: 'pc' }));
    expect(d.get('ProtectHome')).toEqual(['read-only']);
    expect(d.get('User')).toEqual(['pc']);
    expect(d.has('StateDirectory')).toBe(false);
    expect(d.get('AmbientCapabilities')).toEqual(['CAP_NET_BIND_SERVICE']);
    expect(d.get('ExecStart')![0]).toContain('serve --data /srv/paracord --listen 0.0.0.0:443');
  });

  it('the user unit starts with the user session and leaves namespace sandboxing optional', () => {
    const unit = systemdUserUnit({ ...base, dataDir: '/home/ann/.local/share/paracord-node' });
    const d = directives(unit);
    expect(d.get('Type')).toEqual(['exec']);
    expect(d.get('NoNewPrivileges')).toEqual(['yes']);
    expect(d.has('User')).toBe(false);
    expect(d.get('WantedBy')).toEqual(['default.target']);
    expect(unit).toContain('#ReadWritePaths=/home/ann/.local/share/paracord-node');
    expect(userUnitPath({}, '/home/ann')).toBe('/home/ann/.config/systemd/user/paracord-node.service');
    expect(userUnitPath({ XDG_CONFIG_HOME: '/cfg' }, '/home/ann')).toBe('/cfg/systemd/user/paracord-node.service');
  });

  it('refuses control characters in any word or path of a unit (a newline would start a directive of its own)', () => {
    expect(() => systemdQuote('/x\nUser=root')).toThrow(/control character/);
    expect(() => systemdSystemUnit({ ...base, dataDir: '/srv/p\rx' })).toThrow(/control character/);
    expect(() => systemdUserUnit({ ...base, serveArgs: ['--public-url', 'https://a.example/\tx'] })).toThrow(/control character/);
  });

  it('quotes ExecStart words and escapes specifiers and variables', () => {
    expect(systemdQuote('/plain/path')).toBe('/plain/path');
    expect(systemdQuote('/my data/dir')).toBe('"/my data/dir"');
    expect(systemdQuote('50%')).toBe('50%%');
    expect(systemdQuote('$HOME')).toBe('"$$HOME"');
    expect(systemdQuote('a"b\\c')).toBe('"a\\"b\\\\c"');
  });
});

describe('launchd plist', () => {
  it('lists the program arguments, escaped, and restarts on failure', () => {
    const plist = launchdPlist({ ...base, dataDir: '/Users/ann/Paracord & co' });
    expect(plist).toContain('<string>/Users/ann/Paracord &amp; co</string>');
    expect(plist).toContain('<key>RunAtLoad</key><true/>');
    expect(plist).toContain('<key>SuccessfulExit</key><false/>');
  });
});
