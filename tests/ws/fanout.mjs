// Subscription fan-out benchmark (issue 6 / BENCHMARKS.md, scenario 5):
// N graphql-ws clients, each on its own WebSocket, subscribe to one deal's
// changes; then the deal is changed K times over HTTP and each client's
// delivery latency is measured from the moment the mutation was sent.
//
// usage: node fanout.mjs <http-url> <email> <password> [subscribers=1000] [events=20]
// e.g.   node fanout.mjs http://127.0.0.1:8080/graphql manager1@demo.example demo-password 1000 20
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [httpUrl, email, password, nArg, kArg] = process.argv.slice(2);
const n = Number(nArg ?? 1000);
const k = Number(kArg ?? 20);
const wsUrl = httpUrl.replace(/^http/, 'ws') + '/ws';

async function gql(query, variables = {}, token) {
  const res = await fetch(httpUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

const { login } = await gql('mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }', {
  e: email,
  p: password,
});
const token = login.token;
const { deals } = await gql('{ deals(first: 1, filter: {status: OPEN}) { nodes { id version } } }', {}, token);
const deal = deals.nodes[0];

// Each event's send time, by the version it produces.
const sentAt = new Map();
const latencies = [];
let ready = 0;
let received = 0;
const clients = [];
await new Promise((resolveAll) => {
  for (let i = 0; i < n; i++) {
    const client = createClient({
      url: wsUrl,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${token}` },
      lazy: false,
      retryAttempts: 0,
    });
    clients.push(client);
    let counted = false;
    client.subscribe(
      { query: 'subscription($id: ID!) { dealChanged(id: $id) { version } }', variables: { id: deal.id } },
      {
        next: ({ data }) => {
          const t = sentAt.get(data.dealChanged.version);
          if (t !== undefined) latencies.push(performance.now() - t);
          received++;
        },
        error: (e) => {
          console.error('subscription error', e);
          process.exit(1);
        },
        complete: () => {},
      },
    );
    // graphql-ws has no "subscribed" callback: count the socket once open.
    client.on('connected', () => {
      if (!counted) {
        counted = true;
        if (++ready === n) resolveAll();
      }
    });
  }
});
// Let every `subscribe` message reach the server before the first event.
await new Promise((r) => setTimeout(r, 1500));

let version = deal.version;
for (let i = 0; i < k; i++) {
  sentAt.set(version + 1, performance.now());
  const { updateDeal } = await gql(
    'mutation($id: ID!, $v: Int!, $a: Money) { updateDeal(input: {id: $id, version: $v, amount: $a}) { version } }',
    { id: deal.id, v: version, a: 1000000 + i },
    token,
  );
  version = updateDeal.version;
  await new Promise((r) => setTimeout(r, 250));
}
await new Promise((r) => setTimeout(r, 2000));

latencies.sort((a, b) => a - b);
const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
const result = {
  subscribers: n,
  events: k,
  expected: n * k,
  delivered: received,
  p50_ms: +q(50).toFixed(1),
  p99_ms: +q(99).toFixed(1),
  max_ms: +latencies[latencies.length - 1].toFixed(1),
};
console.log(JSON.stringify(result));
for (const c of clients) c.dispose();
process.exit(result.delivered === result.expected ? 0 : 1);
