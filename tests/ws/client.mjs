// Subscribes with the real `graphql-ws` client and reports on stdout, one
// JSON line per happening: {"connected":n}, {"next":payload},
// {"closed":code,"reason":...}, {"error":...}. Driven by the Rust tests.
//
// usage: node client.mjs <ws-url> <token> <query> [variables-json]
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [url, token, query, variables] = process.argv.slice(2);
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');
let connected = 0;

const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: { authorization: `Bearer ${token}` },
  lazy: false,
  // Reconnect quickly and for a while: the tests restart servers.
  retryAttempts: 50,
  retryWait: async () => new Promise((r) => setTimeout(r, 200)),
  shouldRetry: () => true,
  on: {
    connected: () => say({ connected: ++connected }),
    closed: (e) => say({ closed: e?.code ?? null, reason: e?.reason ?? '' }),
  },
});

client.subscribe(
  { query, variables: variables ? JSON.parse(variables) : {} },
  {
    next: (data) => say({ next: data }),
    error: (err) => {
      say({ error: err instanceof Error ? err.message : err?.reason ?? err });
      process.exit(0);
    },
    complete: () => {
      say({ complete: true });
      process.exit(0);
    },
  },
);

// Never outlive the test that started us.
setTimeout(() => process.exit(0), 60_000);
