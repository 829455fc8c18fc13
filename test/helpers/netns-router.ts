/**
 * A home router in network namespaces, for test/port-mapping.test.ts (issue #15) and
 * test/nat-peering.test.ts (issue #32, `upnp: false`: masquerade only): Debian's
 * miniupnpd (nftables backend) runs in a "router" namespace between a "lan" namespace (where the
 * home node runs, 10.77.0.2, default route via the router's 10.77.0.1) and a "wan" namespace
 * (where a friend's node runs, 192.0.3.2, reaching the router's external address 192.0.3.1).
 * The addresses exist only inside these namespaces; nothing is routed out of them (the lan's only
 * route leads to the router, the router's and the wan's only links are these veth pairs), so the
 * SSDP multicast and the NAT-PMP datagrams of the test stay on the veth links.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const LAN_NODE = '10.77.0.2';
export const ROUTER_LAN = '10.77.0.1';
export const ROUTER_WAN = '192.0.3.1';
export const WAN_NODE = '192.0.3.2';
/**
 * IPv6 (`ipv6: true`, issue #32 item 4): global unicast addresses as an ISP would delegate them
 * (public to the address policy), assigned only inside these namespaces: the home's prefix is
 * routed by the router, whose wan side the friend's namespace reaches. Nothing leaves them.
 */
export const LAN_NODE_V6 = '2001:db9:7447:1::2';
export const ROUTER_LAN_V6 = '2001:db9:7447:1::1';
export const ROUTER_WAN_V6 = '2001:db9:7447:2::1';
export const WAN_NODE_V6 = '2001:db9:7447:2::2';

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

/** Why the namespace router cannot run here, or null when it can. */
export function routerUnavailable(options: { upnp?: boolean } = {}): string | null {
  if (process.platform !== 'linux') return 'network namespaces are Linux only';
  if (process.getuid?.() !== 0) return 'creating network namespaces needs root';
  if (options.upnp !== false && !existsSync('/usr/sbin/miniupnpd')) return 'miniupnpd is not installed (apt-get install miniupnpd)';
  try {
    execFileSync('nft', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'the nft command is not installed (apt-get install nftables)';
  }
  // Its own name each time: a worker runs file after file (a probe left behind must not skip the next).
  const probe = `pcr-probe-${process.pid.toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
  try {
    ip('netns', 'add', probe);
    ip('netns', 'delete', probe);
  } catch (error) {
    return `ip netns does not work here: ${(error as Error).message.split('\n')[0]}`;
  }
  return null;
}

export class NetnsRouter {
  /**
   * `upnp: false`: an ordinary router that only masquerades (nftables), with no miniupnpd and no
   * route from the wan back into the lan: nothing on the wan side can open a connection to the lan.
   */
  private readonly options: { upnp?: boolean; ipv6?: boolean };
  /**
   * `ipv6: true`: the namespaces also get IPv6 (LAN_NODE_V6 …). Without miniupnpd the router lets
   * IPv6 in to the home node (a pinhole the owner made); with it, the router's IPv6 firewall drops
   * new inbound connections except those miniupnpd's IGDv2 pinholes allow (its `miniupnpd` chain).
   */
  constructor(options: { upnp?: boolean; ipv6?: boolean } = {}) {
    this.options = options;
  }

  readonly id = `${process.pid.toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`;
  readonly router = `pcr-r-${this.id}`;
  readonly lan = `pcr-l-${this.id}`;
  readonly wan = `pcr-w-${this.id}`;
  private readonly dir = mkdtempSync(join(tmpdir(), 'paracord-router-'));
  private daemon: ChildProcess | null = null;
  log = '';

  /** Creates the namespaces, links, nftables chains, and starts miniupnpd. */
  async start(): Promise<void> {
    const { id, router, lan, wan } = this;
    for (const ns of [router, lan, wan]) ip('netns', 'add', ns);
    ip('link', 'add', `li-${id}`, 'type', 'veth', 'peer', 'name', `ri-${id}`);
    ip('link', 'add', `wi-${id}`, 'type', 'veth', 'peer', 'name', `re-${id}`);
    ip('link', 'set', `li-${id}`, 'netns', lan);
    ip('link', 'set', `ri-${id}`, 'netns', router);
    ip('link', 'set', `re-${id}`, 'netns', router);
    ip('link', 'set', `wi-${id}`, 'netns', wan);
    ip('-n', router, 'addr', 'add', `${ROUTER_LAN}/24`, 'dev', `ri-${id}`);
    ip('-n', router, 'addr', 'add', `${ROUTER_WAN}/24`, 'dev', `re-${id}`);
    ip('-n', lan, 'addr', 'add', `${LAN_NODE}/24`, 'dev', `li-${id}`);
    ip('-n', wan, 'addr', 'add', `${WAN_NODE}/24`, 'dev', `wi-${id}`);
    for (const ns of [router, lan, wan]) ip('-n', ns, 'link', 'set', 'lo', 'up');
    ip('-n', router, 'link', 'set', `ri-${id}`, 'up');
    ip('-n', router, 'link', 'set', `re-${id}`, 'up');
    ip('-n', lan, 'link', 'set', `li-${id}`, 'up');
    ip('-n', wan, 'link', 'set', `wi-${id}`, 'up');
    ip('-n', lan, 'route', 'add', 'default', 'via', ROUTER_LAN);
    execFileSync('ip', ['netns', 'exec', router, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    let pinhole = '';
    if (this.options.ipv6) {
      // nodad: the addresses are usable at once (no duplicate detection on a two-end link).
      ip('-n', router, '-6', 'addr', 'add', `${ROUTER_LAN_V6}/64`, 'dev', `ri-${id}`, 'nodad');
      ip('-n', router, '-6', 'addr', 'add', `${ROUTER_WAN_V6}/64`, 'dev', `re-${id}`, 'nodad');
      ip('-n', lan, '-6', 'addr', 'add', `${LAN_NODE_V6}/64`, 'dev', `li-${id}`, 'nodad');
      ip('-n', wan, '-6', 'addr', 'add', `${WAN_NODE_V6}/64`, 'dev', `wi-${id}`, 'nodad');
      ip('-n', lan, '-6', 'route', 'add', 'default', 'via', ROUTER_LAN_V6);
      // The ISP routes the home's prefix to its router.
      ip('-n', wan, '-6', 'route', 'add', '2001:db9:7447:1::/64', 'via', ROUTER_WAN_V6);
      execFileSync('ip', ['netns', 'exec', router, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1']);
      pinhole = ` ip6 daddr ${LAN_NODE_V6} tcp dport 1024-65535 accept;`;
    }
    if (this.options.upnp === false) {
      // Outgoing connections leave with the router's wan address; nothing comes in unasked
      // (except, with ipv6, to the home node's IPv6 address: its pinhole).
      const nat = `table inet filter {
  chain forward { type filter hook forward priority 0; policy drop; ct state established,related accept; iifname "ri-${id}" accept;${pinhole} }
  chain prerouting { type nat hook prerouting priority -100; policy accept; }
  chain postrouting { type nat hook postrouting priority 100; policy accept; oifname "re-${id}" meta nfproto ipv4 masquerade; }
}
`;
      execFileSync('ip', ['netns', 'exec', router, 'nft', '-f', '-'], { input: nat });
      return;
    }
    ip('-n', wan, 'route', 'add', '10.77.0.0/24', 'via', ROUTER_WAN);
    // What miniupnpd's nft_init.sh sets up: its chains, hooked into forward and NAT.
    const rules = `table inet filter {
  chain forward { type filter hook forward priority 0; policy drop; ct state established,related accept; iifname "ri-${id}" accept; jump miniupnpd; }
  chain miniupnpd { }
  chain prerouting { type nat hook prerouting priority -100; policy accept; jump prerouting_miniupnpd; }
  chain postrouting { type nat hook postrouting priority 100; policy accept; jump postrouting_miniupnpd; }
  chain prerouting_miniupnpd { }
  chain postrouting_miniupnpd { }
}
`;
    execFileSync('ip', ['netns', 'exec', router, 'nft', '-f', '-'], { input: rules });
    const conf = join(this.dir, 'miniupnpd.conf');
    writeFileSync(
      conf,
      [
        `ext_ifname=re-${id}`, `listening_ip=ri-${id}`, 'http_port=0', 'enable_natpmp=yes', 'enable_upnp=yes', 'secure_mode=yes',
        'system_uptime=yes', `lease_file=${join(this.dir, 'leases')}`, 'uuid=a450165c-06eb-4c2a-bd8b-1dff4efd27ad',
        ...(this.options.ipv6 ? ['ipv6_disable=no'] : []),
        'allow 1024-65535 10.77.0.0/24 1024-65535', 'deny 0-65535 0.0.0.0/0 0-65535', '',
      ].join('\n'),
    );
    const daemon = spawn('ip', ['netns', 'exec', router, '/usr/sbin/miniupnpd', '-f', conf, '-d', '-P', join(this.dir, 'miniupnpd.pid')], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.daemon = daemon;
    daemon.stdout!.on('data', (c: Buffer) => (this.log += c.toString()));
    daemon.stderr!.on('data', (c: Buffer) => (this.log += c.toString()));
    const deadline = Date.now() + 10_000;
    while (!/Listening for NAT-PMP/.test(this.log)) {
      if (Date.now() > deadline || daemon.exitCode !== null) throw new Error(`miniupnpd did not start:\n${this.log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** (`upnp: false`) The owner forwards `port` of the router's wan address to the home node (IPv4). */
  forwardPort(port: number): void {
    const nft = (...args: string[]) => execFileSync('ip', ['netns', 'exec', this.router, 'nft', ...args]);
    nft('add', 'rule', 'inet', 'filter', 'prerouting', 'iifname', `re-${this.id}`, 'ip', 'daddr', ROUTER_WAN, 'tcp', 'dport', String(port), 'dnat', 'ip', 'to', `${LAN_NODE}:${port}`);
    nft('add', 'rule', 'inet', 'filter', 'forward', 'ip', 'daddr', LAN_NODE, 'tcp', 'dport', String(port), 'accept');
  }

  /**
   * (`upnp: false`) The home's IPv4 stops being reachable on `port` (its ISP moved it behind
   * carrier-grade NAT): every IPv4 packet to it on that port, even of a connection already open, is
   * answered with a reset. IPv6 is untouched.
   */
  cutIpv4(port: number): void {
    execFileSync('ip', ['netns', 'exec', this.router, 'nft', 'insert', 'rule', 'inet', 'filter', 'forward', 'ip', 'daddr', LAN_NODE, 'tcp', 'dport', String(port), 'reject', 'with', 'tcp', 'reset']);
  }

  /** Another host of the home: `address` (in the lan's /24) on the lan namespace's link too; `remove` takes it away. */
  addLanAddress(address: string, remove = false): void {
    ip('-n', this.lan, 'addr', remove ? 'del' : 'add', `${address}/24`, 'dev', `li-${this.id}`);
  }

  /**
   * The ISP renumbers the router: its wan address `from` becomes `to` (in the same /24), and the
   * wan's route to the home follows it. miniupnpd reads the address of its external interface
   * at each request.
   */
  renumberWan(from: string, to: string): void {
    ip('-n', this.router, 'addr', 'del', `${from}/24`, 'dev', `re-${this.id}`);
    ip('-n', this.router, 'addr', 'add', `${to}/24`, 'dev', `re-${this.id}`);
    if (this.options.upnp !== false) ip('-n', this.wan, 'route', 'replace', '10.77.0.0/24', 'via', to);
  }

  /** Where miniupnpd serves its device description over IPv4 or IPv6 (`ipv6: true`) (its HTTP port, from its log). */
  descriptionUrl(family: 4 | 6 = 4): string {
    const port = /HTTP listening on port (\d+)/.exec(this.log)?.[1];
    if (!port) throw new Error(`miniupnpd did not say its HTTP port:\n${this.log}`);
    return `http://${family === 6 ? `[${ROUTER_LAN_V6}]` : ROUTER_LAN}:${port}/rootDesc.xml`;
  }

  /**
   * The seconds left of miniupnpd's lease for TCP `port` (its lease file: `TCP:port:address:port:end:description`,
   * the end in Unix seconds); null when it holds none, or keeps it without an end.
   */
  leaseLeftSeconds(port: number): number | null {
    let text: string;
    try {
      text = readFileSync(join(this.dir, 'leases'), 'utf8');
    } catch {
      return null;
    }
    const line = text.split('\n').find((l) => l.startsWith(`TCP:${port}:`));
    const end = line === undefined ? NaN : Number(line.split(':')[4]);
    return Number.isFinite(end) && end > 0 ? end - Date.now() / 1000 : null;
  }

  /** The router's NAT rules (what miniupnpd added). */
  natRules(): string {
    return execFileSync('ip', ['netns', 'exec', this.router, 'nft', 'list', 'chain', 'inet', 'filter', 'prerouting_miniupnpd']).toString();
  }

  /**
   * Whether miniupnpd's chain lets TCP in to `address`:`port` (IPv6 pinholes: nftables shows the
   * address as the raw 16 bytes of the IPv6 header's destination, `@nh,192,128 0x…`).
   */
  hasPinhole(address: string, port: number): boolean {
    const chain = execFileSync('ip', ['netns', 'exec', this.router, 'nft', 'list', 'chain', 'inet', 'filter', 'miniupnpd']).toString();
    const hex = `0x${expandIpv6(address)}`;
    return chain.split('\n').some((line) => line.includes(`th dport ${port} `) && line.includes(hex) && line.includes('accept'));
  }

  /** miniupnpd's forward chain, as text (for messages). */
  pinholeRules(): string {
    return execFileSync('ip', ['netns', 'exec', this.router, 'nft', 'list', 'chain', 'inet', 'filter', 'miniupnpd']).toString();
  }

  /** Stops miniupnpd (if any, by its pid) and deletes the namespaces (their veth links go with them). */
  async stop(): Promise<void> {
    const daemon = this.daemon;
    if (daemon && daemon.exitCode === null) {
      const exited = new Promise((r) => daemon.once('exit', r));
      daemon.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3_000))]);
      if (daemon.exitCode === null) daemon.kill('SIGKILL');
    }
    for (const ns of [this.lan, this.wan, this.router]) {
      try {
        ip('netns', 'delete', ns);
      } catch {
        // already gone
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The 32 hex digits of an IPv6 address (no colons). */
function expandIpv6(address: string): string {
  const [head, tail = ''] = address.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
  return groups.map((g) => g.padStart(4, '0')).join('').toLowerCase();
}
