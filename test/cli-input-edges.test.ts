/**
 * The CLI's input checked at its edge (README "Commands": exit 2 for bad usage, one line on
 * stderr, nothing changed): each option said in its own units and words, as a user trial found
 * them said in the admin API's (seconds, field names, the schema's text). The real CLI as a process.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from './helpers/fixtures.ts';
import { CLI } from './helpers/node-process.ts';
import { tempDir } from './helpers/temp-dir.ts';

function run(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Bad usage: exit 2, nothing on stdout, one line on stderr matching `line`. */
function expectUsage(args: string[], line: RegExp | string): void {
  const result = run(args);
  expect(result.code, `${args.join(' ').slice(0, 120)}: ${result.stderr}`).toBe(2);
  expect(result.stdout).toBe('');
  expect(result.stderr.trimEnd().split('\n'), result.stderr).toHaveLength(1);
  if (typeof line === 'string') expect(result.stderr).toBe(`paracord-node: ${line}\n`);
  else expect(result.stderr).toMatch(line);
}

describe('paracord-node CLI: input checked at the edge', () => {
  it('--expires-in is said in days, with the bounds of each link (no node needed to say so)', () => {
    const data = tempDir();
    expectUsage(['invite', '--data', data, '--expires-in', '99999'], '--expires-in is in days: at most 90, not 99999');
    expectUsage(['member', 'invite', '--data', data, '--expires-in', '31'], '--expires-in is in days: at most 30, not 31');
    expectUsage(['member', 'reset', 'kim', '--data', data, '--expires-in', '45'], '--expires-in is in days: at most 30, not 45');
    expectUsage(['member', 'invite', '--data', data, '--expires-in', '0.0001'], '--expires-in is in days: at least 1 minute (0.00069), not 0.0001');
    expectUsage(['invite', '--data', data, '--expires-in', '0.000001'], '--expires-in is in days: at least 1 second (0.000012), not 0.000001');
    expectUsage(['invite', '--data', data, '--expires-in', 'soon'], '--expires-in is in days: give a positive number such as 7 (0.5 is 12 hours), not "soon"');
    // Within the bounds, the CLI goes on to the node (none runs here: exit 1, saying so).
    const within = run(['member', 'invite', '--data', data, '--expires-in', '30']);
    expect(within.code).toBe(1);
    expect(within.stderr).toContain('no node is running');
  });

  it('--note and --reason say their length limit in characters', () => {
    const data = tempDir();
    expectUsage(['invite', '--data', data, '--note', 'n'.repeat(600)], '--note is at most 200 characters (this one has 600)');
    expectUsage(['member', 'invite', '--data', data, '--note', 'n'.repeat(201)], '--note is at most 200 characters (this one has 201)');
    // Counted as the node counts it (it trims): 205 letters and 3 spaces have 205.
    expectUsage(['member', 'invite', '--data', data, '--note', ` ${'n'.repeat(205)}  `], '--note is at most 200 characters (this one has 205)');
    expectUsage(['trust', 'other.test', 'block', '--data', data, '--reason', 'r'.repeat(2000)], '--reason is at most 500 characters (this one has 2000)');
    // A member link's note is trimmed by the node: 200 characters and a space are taken, as the node takes them.
    const spaced = run(['member', 'invite', '--data', data, '--note', `${'n'.repeat(200)} `]);
    expect(spaced.code).toBe(1);
    expect(spaced.stderr).toContain('no node is running');
  });

  it('a damaged peer link is said in words, before any node is asked', () => {
    const data = tempDir();
    // base64url of {"a":1}: readable, but nothing a Paracord link holds.
    expectUsage(['peer', 'redeem', 'paracord://peer/eyJhIjoxfQ', '--data', data], 'the link is damaged, or it is not a Paracord peer invite link (what it holds is not what such a link holds); ask for a new one');
    expectUsage(['peer', 'redeem', 'https://example.org/somewhere', '--data', data], /^paracord-node: this is not a Paracord peer link/);
  });

  it('serve --log-level takes only the log levels, and lists them', () => {
    const data = join(tempDir(), 'data');
    expectUsage(['serve', '--data', data, '--log-level', 'loud'], /^paracord-node: option '--log-level <level>' argument 'loud' is invalid\. Allowed choices are fatal, error, warn, info, debug, trace, silent\. \(run with --help for usage\)\n$/);
    const fromEnv = run(['serve', '--data', data], { PARACORD_LOG_LEVEL: 'loud' });
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.stderr).toMatch(/PARACORD_LOG_LEVEL.*Allowed choices are fatal, error, warn, info, debug, trace, silent/);
    expect(existsSync(data)).toBe(false);
  });

  it('verify-backup of a file that is no backup says so', () => {
    const file = join(tempDir(), 'text.pcbak');
    writeFileSync(file, 'hello');
    const result = run(['verify-backup', '--in', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('paracord-node: this is not a Paracord backup file (it does not start like one)\n');
    // A file that starts like one and stops is a truncated backup still.
    writeFileSync(file, 'PARAC');
    expect(run(['verify-backup', '--in', file]).stderr).toMatch(/ends early \(truncated or damaged\)/);
  });

  it('a command group without its command names its commands', () => {
    expectUsage(['member', '--data', 'a'], 'member needs a command: invite, list, disable, enable, reset (run with member --help for usage)');
    expectUsage(['keys', '--data', 'a'], 'keys needs a command: show, rotate, announce (run with keys --help for usage)');
    expectUsage(['peer'], 'peer needs a command: redeem, list, add (run with peer --help for usage)');
    expectUsage(['service'], 'service needs a command: print, install (run with service --help for usage)');
    // A command mistyped is named, as commander names a mistyped group (`memb`: "Did you mean member?").
    expectUsage(['member', 'invit'], 'member has no command "invit" (did you mean invite?); its commands: invite, list, disable, enable, reset (run with member --help for usage)');
    expectUsage(['keys', 'rotat'], /^paracord-node: keys has no command "rotat" \(did you mean rotate\?\)/);
    expectUsage(['peer', 'lst'], /^paracord-node: peer has no command "lst" \(did you mean list\?\)/);
    expectUsage(['member', 'frobnicate'], 'member has no command "frobnicate"; its commands: invite, list, disable, enable, reset (run with member --help for usage)');
    expectUsage(['member', '--data', 'a', 'list'], "member's options go after its command: paracord-node member list [options] (run with member --help for usage)");
    expect(run(['member', '--help']).code).toBe(0);
    // Their commands still refuse extra arguments (the group's own leniency is not inherited).
    for (const args of [['keys', 'show', 'extra'], ['peer', 'list', 'extra'], ['member', 'list', 'extra']]) {
      expectUsage(args, new RegExp(`^paracord-node: too many arguments for '${args[1]}'`));
    }
  });

  it('service print and install check --run-as and the serve arguments, and write nothing when refused', () => {
    expectUsage(['service', 'print', '--system', '--run-as', 'bad user;rm'], '--run-as "bad user;rm" is not a user name (lower-case letters, digits, _ and -, starting with a letter or _, at most 32 characters)');
    expectUsage(['service', 'print', '--', '--listen', 'nonsense'], 'the serve arguments after --: --listen must be HOST:PORT (for example 127.0.0.1:7448), not "nonsense"');
    expectUsage(['service', 'print', '--system', '--', '--bogus'], "the serve arguments after --: unknown option '--bogus'");
    expectUsage(['service', 'print', '--', '--log-level', 'loud'], /^paracord-node: the serve arguments after --: option '--log-level <level>' argument 'loud' is invalid/);
    expectUsage(['service', 'print', '--launchd', '--', 'extra'], '"extra" is not an option of serve: a service passes serve options only, after -- (for example -- --listen 0.0.0.0:7447)');
    // Without --: before, "the serve arguments after --: too many arguments" named a -- nobody typed.
    expectUsage(['service', 'print', '--system', 'extra1'], '"extra1" is not an option of serve: a service passes serve options only, after -- (for example -- --listen 0.0.0.0:7447)');
    expectUsage(['service', 'print', '--', '--insecure-http', 'extra'], /^paracord-node: the serve arguments after --: too many arguments/);
    // A newline (or any control character) would start a directive of its own in the unit (a review: User=root, ExecStart=…).
    expectUsage(['service', 'print', '--system', '--', '--tls-cert', '/x\nUser=root\nExecStart=/usr/bin/touch /tmp/pwn', '--tls-key', '/k'], /^paracord-node: ".*" holds a control character \(a newline, a tab, …\): a service cannot carry it\n$/);
    expectUsage(['service', 'print', '--', '--public-url', 'https://a.example/\rx'], /holds a control character/);
    expectUsage(['service', 'print', '--data', '/srv/p\naracord'], /holds a control character/);
    // --data among the serve arguments: the unit's sandbox would be made for another folder than the one it runs.
    expectUsage(['service', 'print', '--system', '--', '--data', '/root/elsewhere'], 'give --data before --, not among the serve arguments: the unit is made for that folder');
    expectUsage(['service', 'print', '--', '--data=/root/elsewhere'], 'give --data before --, not among the serve arguments: the unit is made for that folder');
    // The shell's PARACORD_* variables are not the unit's: not read when checking.
    const clean = run(['service', 'print', '--system', '--run-as', 'svc_user-1', '--', '--listen', '0.0.0.0:443'], { PARACORD_LISTEN: 'nonsense' });
    expect(clean.code, clean.stderr).toBe(0);
    expect(clean.stdout).toMatch(/^User=svc_user-1$/m);
    expect(clean.stdout).toMatch(/ serve --data \/var\/lib\/paracord-node --listen 0\.0\.0\.0:443$/m);

    const config = tempDir();
    const env = { XDG_CONFIG_HOME: config, PATH: '/nonexistent' };
    const install = run(['service', 'install', '--user', '--data', join(tempDir(), 'data'), '--', '--listen', 'nonsense'], env);
    expect(install.code).toBe(2);
    expect(install.stderr).toContain('--listen must be HOST:PORT');
    expect(readdirSync(config)).toEqual([]);
  });
});

describe('paracord-node CLI: refusals of a running node', () => {
  it('input the node refuses is bad usage (exit 2); a code is named once', async ({ nodes }) => {
    const [alpha, beta] = await nodes.peered('edge-alpha.test', 'edge-beta.test');
    // Refused by the node's own validation (a server name with a space): exit 2, as README says.
    const refused = run(['peer', 'add', 'not a name', '--data', alpha.dataDir]);
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(refused.stderr).toContain('(invalid_input)');

    // A revoked link: alpha's refusal, passed on by beta's node, names its code once.
    const invite = run(['invite', '--json', '--data', alpha.dataDir]);
    expect(invite.code, invite.stderr).toBe(0);
    const { id, link } = JSON.parse(invite.stdout) as { id: string; link: string };
    expect((await alpha.admin('DELETE', `/invites/peer/${id}`)).status).toBe(200);
    await new Promise((resolve) => setImmediate(resolve));
    const revoked = run(['peer', 'redeem', link, '--data', beta.dataDir]);
    expect(revoked.code).toBe(1);
    expect(revoked.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(revoked.stderr.match(/link_revoked/g), revoked.stderr).toHaveLength(1);
    expect(revoked.stderr).toContain('this invite link was revoked by its owner');
  });

  it('serve warns once, on stderr and in the log, when the admin listener is not on loopback', async ({ nodes }) => {
    const exposed = nodes.process({ serverName: 'exposed.test', args: ['--admin-listen', '0.0.0.0:0'] });
    await exposed.start();
    const warning = 'paracord-node: warning: the admin listener (--admin-listen 0.0.0.0:0) is not on loopback: anyone who can reach that address can try the admin token; keep it on 127.0.0.1 unless you mean it';
    expect(exposed.stderr.split('\n').filter((l) => l.startsWith('paracord-node: warning'))).toEqual([warning]);
    expect(exposed.stderr).toMatch(/"event":"admin_listen_not_loopback"/);
    const local = nodes.process({ serverName: 'local.test' });
    await local.start();
    expect(local.stderr).not.toContain('admin_listen_not_loopback');
    expect(local.stderr).not.toContain('not on loopback');
  });
});
