/**
 * The signed-request checks in isolation, as unit tests of them use them: a real Koa app on
 * 127.0.0.1 running the real verification middleware (verify-signed-request.ts) over a real
 * SQLite database, and each origin's keys document served by a small real server of its own,
 * so key fetching happens for real. The route behind the middleware is the test's.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Koa from 'koa';
import { pino } from 'pino';
import type { Identity } from '../../main/core/identity/identity.ts';
import { errorHandler } from '../../main/core/http/middleware/error-handler.ts';
import { openDatabase, type Db } from '../../main/core/store/database.ts';
import { GroupCommit } from '../../main/core/store/group-commit.ts';
import { Settings } from '../../main/core/store/settings.ts';
import { TrustStore } from '../../main/core/trust/trust-store.ts';
import { Discovery } from '../../main/core/federation/discovery.ts';
import { AddressPolicy } from '../../main/core/federation/address-policy.ts';
import { HttpClient } from '../../main/core/federation/http-client.ts';
import { ReplayCache } from '../../main/core/federation/replay-cache.ts';
import { ServerKeys } from '../../main/core/federation/keys/server-keys.ts';
import { verifySignedRequest, type VerifySignedRequestDeps } from '../../main/core/federation/middleware/verify-signed-request.ts';

const log = pino({ level: 'silent' });

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/**
 * An origin's keys endpoint: its keys document, unless `answer` answered the request itself
 * (an outage, a count of fetches) and returned true.
 */
export function keysServer(identity: Identity, answer?: (req: IncomingMessage, res: ServerResponse) => boolean): Server {
  return createServer((req, res) => {
    if (answer?.(req, res)) return;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(identity.keysDocument()));
  });
}

export interface VerifyApp {
  db: Db;
  trust: TrustStore;
  keys: ServerKeys;
  replay: ReplayCache;
  commit: GroupCommit;
  /** The app's base URL. */
  url: string;
  close(): void;
}

/**
 * The app, with each origin in `origins` an allowed peer whose endpoint is its keys server.
 * `deps`: more of the middleware's options (its clock, our server name, the hand-over check).
 */
export async function verifyApp(
  dir: string,
  origins: Array<{ identity: Identity; keys: Server }>,
  route: Koa.Middleware,
  deps: (parts: { db: Db }) => Partial<VerifySignedRequestDeps> = () => ({}),
): Promise<VerifyApp> {
  const db = openDatabase(join(dir, 'node.db'));
  const trust = new TrustStore(db, new Settings(db));
  for (const { identity, keys } of origins) {
    trust.upsert(identity.serverName, { trust: 'allow', endpoint_source: 'owner', endpoint: await listen(keys) });
  }
  // As the node wires it: the peer's stored endpoint (loopback here) is vouched for by the owner.
  const http = new HttpClient({ allowInsecureHttp: true, policy: new AddressPolicy({ insecureHttp: true, allowPrivateAddresses: false, endpointVouch: (o) => trust.endpointVouch(o) }) });
  const keys = new ServerKeys(db, http, new Discovery(http, trust), log);
  const replay = new ReplayCache(db);
  const commit = new GroupCommit(db);
  const koa = new Koa();
  koa.use(errorHandler(log));
  koa.use(verifySignedRequest({ trust, keys, replay, commit, ...deps({ db }) }));
  koa.use(route);
  const app = createServer(koa.callback());
  const url = await listen(app);
  return {
    db, trust, keys, replay, commit, url,
    close: () => {
      app.close();
      for (const { keys: server } of origins) server.close();
      db.close();
    },
  };
}
