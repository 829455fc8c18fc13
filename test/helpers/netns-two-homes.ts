/**
 * Two homes behind two NAT routers without UPnP, and a public friend, in network namespaces
 * (issue #32): a "wan" namespace holds a bridge with the friend's address (192.0.3.2) and each
 * router's external address (192.0.3.11, .12); router i masquerades its lan (10.77.i.0/24, the
 * home at 10.77.i.2) onto the wan and lets nothing in unasked. Nothing routes between the lans or
 * from the wan into them, and nothing leaves these namespaces.
 */
import { execFileSync } from 'node:child_process';

export const FRIEND = '192.0.3.2';
export const homeAddress = (i: 1 | 2) => `10.77.${i}.2`;

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

export class TwoHomes {
  readonly id = `${process.pid.toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`;
  readonly wan = `pch-w-${this.id}`;
  readonly routers = [`pch-r1-${this.id}`, `pch-r2-${this.id}`] as const;
  readonly lans = [`pch-l1-${this.id}`, `pch-l2-${this.id}`] as const;

  start(): void {
    const { id, wan } = this;
    for (const ns of [wan, ...this.routers, ...this.lans]) {
      ip('netns', 'add', ns);
      ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
    ip('-n', wan, 'link', 'add', 'br0', 'type', 'bridge');
    ip('-n', wan, 'addr', 'add', `${FRIEND}/24`, 'dev', 'br0');
    ip('-n', wan, 'link', 'set', 'br0', 'up');
    for (const i of [1, 2] as const) {
      const router = this.routers[i - 1]!;
      const lan = this.lans[i - 1]!;
      // router <-> wan bridge
      ip('link', 'add', `hw${i}-${id}`, 'type', 'veth', 'peer', 'name', `hr${i}-${id}`);
      ip('link', 'set', `hw${i}-${id}`, 'netns', wan);
      ip('link', 'set', `hr${i}-${id}`, 'netns', router);
      ip('-n', wan, 'link', 'set', `hw${i}-${id}`, 'master', 'br0');
      ip('-n', wan, 'link', 'set', `hw${i}-${id}`, 'up');
      ip('-n', router, 'addr', 'add', `192.0.3.1${i}/24`, 'dev', `hr${i}-${id}`);
      ip('-n', router, 'link', 'set', `hr${i}-${id}`, 'up');
      // lan <-> router
      ip('link', 'add', `hl${i}-${id}`, 'type', 'veth', 'peer', 'name', `hi${i}-${id}`);
      ip('link', 'set', `hl${i}-${id}`, 'netns', lan);
      ip('link', 'set', `hi${i}-${id}`, 'netns', router);
      ip('-n', router, 'addr', 'add', `10.77.${i}.1/24`, 'dev', `hi${i}-${id}`);
      ip('-n', router, 'link', 'set', `hi${i}-${id}`, 'up');
      ip('-n', lan, 'addr', 'add', `${homeAddress(i)}/24`, 'dev', `hl${i}-${id}`);
      ip('-n', lan, 'link', 'set', `hl${i}-${id}`, 'up');
      ip('-n', lan, 'route', 'add', 'default', 'via', `10.77.${i}.1`);
      execFileSync('ip', ['netns', 'exec', router, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
      const nat = `table inet filter {
  chain forward { type filter hook forward priority 0; policy drop; ct state established,related accept; iifname "hi${i}-${id}" oifname "hr${i}-${id}" accept; }
  chain postrouting { type nat hook postrouting priority 100; policy accept; oifname "hr${i}-${id}" masquerade; }
}
`;
      execFileSync('ip', ['netns', 'exec', router, 'nft', '-f', '-'], { input: nat });
    }
  }

  stop(): void {
    for (const ns of [...this.lans, ...this.routers, this.wan]) {
      try {
        ip('netns', 'delete', ns);
      } catch {
        // already gone
      }
    }
  }
}
