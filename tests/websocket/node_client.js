// SPDX-License-Identifier: MIT
// node's `ws` as a client against our server (wm_ws_tests --serve, or
// example-ws-echo with --echo-only): messages of 0 B to 16 MiB both ways,
// fragmented messages, ping/pong, and every close path. Prints "ok ..." per
// step; exits 1 with the reason on the first failure.
// Usage: node node_client.js URL [--ca FILE] [--echo-only]
'use strict';
const fs = require('fs');
const path = require('path');
const WebSocket = require(path.join(__dirname, '../node/node_modules/ws'));

const url = process.argv[2];
const caIdx = process.argv.indexOf('--ca');
const ca = caIdx > 0 ? fs.readFileSync(process.argv[caIdx + 1]) : undefined;
const echoOnly = process.argv.includes('--echo-only');

function fail(msg) {
  console.error('FAIL: ' + msg);
  process.exit(1);
}
setTimeout(() => fail('timed out'), 120000).unref();

function open(protocols) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, { ca, origin: 'https://node.test', maxPayload: 64 << 20 });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function next(ws) {
  return new Promise((resolve) => ws.once('message', (data, isBinary) => resolve({ data, isBinary })));
}

function closed(ws) {
  return new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
}

async function ask(ws, text) {
  const p = next(ws);
  ws.send(text);
  return (await p).data.toString();
}

async function echoSizes(ws) {
  const sizes = [0, 1, 125, 126, 65535, 65536, 1 << 20, 16 << 20];
  for (const n of sizes) {
    for (const binary of [false, true]) {
      const buf = Buffer.alloc(n);
      for (let i = 0; i < n; i++) buf[i] = binary ? (i * 13 + 5) & 0xff : 97 + (i % 26);
      const p = next(ws);
      ws.send(binary ? buf : buf.toString(), { binary });
      const m = await p;
      if (m.isBinary !== binary) fail(`size ${n}: binary ${m.isBinary}, sent ${binary}`);
      if (!Buffer.from(m.data).equals(buf)) fail(`size ${n} binary ${binary}: the echo differs`);
    }
  }
  console.log('ok   echo 0 B .. 16 MiB, text and binary');
}

async function main() {
  // The example accepts no subprotocol (node's client then fails): offer none.
  let ws = await open(echoOnly ? undefined : ['other', 'chat']);
  await echoSizes(ws);
  // Fragmented, text and binary, with a ping between fragments.
  let p = next(ws);
  ws.send('frag', { fin: false });
  ws.ping('between');
  ws.send('mented', { fin: true });
  let m = await p;
  if (m.isBinary || m.data.toString() !== 'fragmented') fail('fragmented text: ' + m.data);
  p = next(ws);
  ws.send(Buffer.from([1, 2]), { binary: true, fin: false });
  ws.send(Buffer.from([3]), { binary: true, fin: false });
  ws.send(Buffer.from([4]), { binary: true, fin: true });
  m = await p;
  if (!m.isBinary || !Buffer.from(m.data).equals(Buffer.from([1, 2, 3, 4]))) fail('fragmented binary');
  console.log('ok   fragmented messages, a ping between fragments');
  const pong = new Promise((resolve) => ws.once('pong', (d) => resolve(d.toString())));
  ws.ping('abc');
  if ((await pong) !== 'abc') fail('pong payload');
  console.log('ok   ping, pong');
  if (echoOnly) {
    const c = closed(ws);
    ws.close(1000, 'done');
    const r = await c;
    if (r.code !== 1000) fail('close code ' + r.code);
    console.log('ok   close 1000');
    return;
  }
  if (ws.protocol !== 'chat') fail('subprotocol: ' + ws.protocol);
  if ((await ask(ws, '!origin')) !== 'https://node.test') fail('origin');
  console.log('ok   subprotocol and Origin');

  // Client-initiated close with code and reason: our echo, and what the server saw.
  let c = closed(ws);
  ws.close(4001, 'node bye');
  let r = await c;
  if (r.code !== 4001) fail('client close: echoed code ' + r.code);
  ws = await open();
  if ((await ask(ws, '!last')) !== '4001 node bye') fail('server saw another close');
  console.log('ok   client-initiated close with code and reason');

  // Server-initiated close.
  c = closed(ws);
  ws.send('!close 4002 server bye');
  r = await c;
  if (r.code !== 4002 || r.reason !== 'server bye') fail(`server close: ${r.code} ${r.reason}`);
  console.log('ok   server-initiated close with code and reason');

  // Abrupt close by the server: 1006.
  ws = await open();
  c = closed(ws);
  ws.send('!drop');
  r = await c;
  if (r.code !== 1006) fail('dropped: ' + r.code);
  console.log('ok   abrupt close by the server: 1006');

  // Abrupt close by the client: the server reports 1006.
  ws = await open();
  c = closed(ws);
  ws.terminate();
  await c;
  await new Promise((resolve) => setTimeout(resolve, 100));
  ws = await open();
  if ((await ask(ws, '!last')) !== '1006 ') fail('server after terminate');
  console.log('ok   abrupt close by the client: the server sees 1006');
  c = closed(ws);
  ws.close();
  r = await c;
  if (r.code !== 1005) fail('close without a code: ' + r.code);
  console.log('ok   close without a code: 1005');
}

main().then(() => process.exit(0), (e) => fail(e.stack || String(e)));
