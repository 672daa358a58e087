// Subscription fan-out benchmark (issue 7 scenario 5, BENCHMARKS.md):
// N graphql-ws clients, each on its own WebSocket, subscribe to the changes
// of one of D deals (round robin); then the deals are changed over HTTP at
// R events per second (in turn), and each delivery's latency is measured
// from the moment its mutation was sent (so it includes the commit). The
// server's resident memory is read from /metrics before the sockets open
// and once they are all subscribed: memory per subscriber.
//
// usage: node fanout.mjs <http-url> <email> <password> [subscribers=1000] [events=20] [deals=1] [rate=4]
// e.g.   node fanout.mjs http://127.0.0.1:8080/graphql member0@bench.example bench-password 10000 2000 100 100
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [httpUrl, email, password, nArg, kArg, dArg, rArg] = process.argv.slice(2);
const n = Number(nArg ?? 1000);
const k = Number(kArg ?? 20);
const d = Number(dArg ?? 1);
const rate = Number(rArg ?? 4);
const wsUrl = httpUrl.replace(/^http/, 'ws') + '/ws';
const base = httpUrl.replace(/\/graphql$/, '');

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

async function rssBytes() {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('process_resident_memory_bytes '));
  return line ? Number(line.split(' ')[1]) : NaN;
}

const { login } = await gql('mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }', {
  e: email,
  p: password,
});
const token = login.token;
const { deals } = await gql(
  'query($n: Int!) { deals(first: $n, filter: {status: OPEN}) { nodes { id version } } }',
  { n: d },
  token,
);
if (deals.nodes.length < d) throw new Error(`only ${deals.nodes.length} open deals`);
const versions = new Map(deals.nodes.map((x) => [x.id, x.version]));

// Each event's send time, by deal and the version it produces.
const sentAt = new Map();
const latencies = [];
let received = 0;
const clients = [];
const rssBefore = await rssBytes();

// Open the sockets in waves, so that the server's accept queue never overflows.
for (let start = 0; start < n; start += 500) {
  const wave = [];
  for (let i = start; i < Math.min(n, start + 500); i++) {
    const dealId = deals.nodes[i % d].id;
    const client = createClient({
      url: wsUrl,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${token}` },
      lazy: false,
      retryAttempts: 0,
    });
    clients.push(client);
    client.subscribe(
      { query: 'subscription($id: ID!) { dealChanged(id: $id) { id version } }', variables: { id: dealId } },
      {
        next: ({ data }) => {
          const t = sentAt.get(`${data.dealChanged.id}/${data.dealChanged.version}`);
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
    wave.push(new Promise((resolve) => client.on('connected', resolve)));
  }
  await Promise.all(wave);
}
// Let every `subscribe` message reach the server before the first event.
await new Promise((r) => setTimeout(r, 1500 + n / 5));
const rssSubscribed = await rssBytes();

// Events in turn over the deals, one every 1/rate s; a deal whose previous
// change is still in flight is skipped for that tick (and counted).
const inFlight = new Set();
let sent = 0;
let skipped = 0;
const started = performance.now();
const pending = [];
for (let i = 0; sent < k; i++) {
  const due = started + (i * 1000) / rate;
  const wait = due - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const id = deals.nodes[i % d].id;
  if (inFlight.has(id)) {
    skipped++;
    continue;
  }
  inFlight.add(id);
  const v = versions.get(id);
  sentAt.set(`${id}/${v + 1}`, performance.now());
  sent++;
  pending.push(
    gql(
      'mutation($id: ID!, $v: Int!, $a: Money) { updateDeal(input: {id: $id, version: $v, amount: $a}) { version } }',
      { id, v, a: 1000000 + i },
      token,
    ).then(({ updateDeal }) => {
      versions.set(id, updateDeal.version);
      inFlight.delete(id);
    }),
  );
}
await Promise.all(pending);
const seconds = (performance.now() - started) / 1000;
await new Promise((r) => setTimeout(r, 2000 + n / 5));

latencies.sort((a, b) => a - b);
const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
const result = {
  subscribers: n,
  deals: d,
  events: sent,
  events_per_sec: +(sent / seconds).toFixed(1),
  skipped_ticks: skipped,
  expected: (n / d) * sent,
  delivered: received,
  p50_ms: +q(50).toFixed(1),
  p99_ms: +q(99).toFixed(1),
  max_ms: +latencies[latencies.length - 1].toFixed(1),
  server_rss_mb_before: +(rssBefore / 1048576).toFixed(1),
  server_rss_mb_subscribed: +(rssSubscribed / 1048576).toFixed(1),
  kb_per_subscriber: +((rssSubscribed - rssBefore) / 1024 / n).toFixed(1),
};
console.log(JSON.stringify(result));
for (const c of clients) c.dispose();
process.exit(result.delivered === result.expected ? 0 : 1);
