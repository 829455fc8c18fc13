/**
 * `paracord-node reach-test --data DIR [--via SERVER_NAME]` (docs/ARCHITECTURE.md §What outside tools rely on): asks a
 * peer to call the running node back and prints `{reachable, via, endpoint, status, latency_ms,
 * error, mode}`. Exit 0 when reachable, 1 when not, 2 when no peer could be asked.
 */
import { Option, type Command } from 'commander';
import { adminCall, checkServerName, dataOption } from './common.ts';
import { terminalJson } from '../core/util/untrusted-text.ts';

interface Answer {
  reachable: boolean | null;
  via: string | null;
  endpoint: string | null;
  status: string | null;
  latency_ms: number | null;
  error: string | null;
  mode: 'push' | 'pull' | null;
}

export function register(program: Command): void {
  program
    .command('reach-test')
    .description('ask a peer to call this node back: can friends reach it? (exit 0 yes, 1 no, 2 nobody could be asked)')
    .addOption(dataOption())
    .addOption(new Option('--via <server_name>', 'the peer to ask (default: any allowed peer that answers)'))
    .action(async (opts: { data: string; via?: string }) => {
      const via = opts.via === undefined ? undefined : checkServerName(opts.via);
      let answer: Answer;
      try {
        const result = (await adminCall(opts.data, 'POST', '/reachability/check', via ? { via } : {})) as Partial<Answer>;
        answer = {
          reachable: result.reachable ?? null,
          via: result.via ?? null,
          endpoint: result.endpoint ?? null,
          status: result.status ?? null,
          latency_ms: result.latency_ms ?? null,
          error: result.error ?? null,
          mode: result.mode ?? null,
        };
      } catch (error) {
        answer = { reachable: null, via: via ?? null, endpoint: null, status: 'no_peer', latency_ms: null, error: (error as Error).message, mode: null };
      }
      const code = answer.reachable === true ? 0 : answer.reachable === false ? 1 : 2;
      await new Promise<void>((resolve) => process.stdout.write(terminalJson(answer) + '\n', () => resolve()));
      process.exit(code);
    });
}
