// SPDX-License-Identifier: MIT
// Drives Debian's chromium (headless, through playwright-core) against two
// nodes of example-cluster-push joined by one channel-server:
//   alice opens node A's page and binds to user "alice";
//   pushes through node B's HTTP API to user:alice, to alice's connection
//   id and to all appear on her page;
//   bob (node B) and carol (node A) join group g1; a message bob sends to
//   g1 reaches both of them, and not alice, who is in no group.
// Every page's WebSocket must be wss:// when the pages come over https, and
// ws:// otherwise.
// Exits 0 when all of that happened, 1 (with what each page logged) otherwise.
//
// Usage: node cluster_test.js NODE_A_URL NODE_B_URL [SPKI_SHA256_BASE64]
//   SPKI  for https: the base64 SHA-256 of the nodes' certificate's public
//         key; chromium then accepts that certificate and no other (the test
//         CA is made at test time). This process's fetch() of the push API
//         needs the CA in NODE_EXTRA_CA_CERTS.
'use strict';
const path = require('path');
const { chromium } = require(path.join(__dirname, '../node/node_modules/playwright-core'));

const [urlA, urlB, spki] = process.argv.slice(2);
if (!urlA || !urlB) {
  console.error('usage: node cluster_test.js NODE_A_URL NODE_B_URL [SPKI_SHA256_BASE64]');
  process.exit(2);
}
const TIMEOUT_MS = 15000;
const wsScheme = urlA.startsWith('https:') ? 'wss:' : 'ws:';
const sockets = []; // every page's WebSocket URL

async function open(browser, name, url, logs) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('console', (m) => logs.push(`${name} console: ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`${name} error: ${e.message}`));
  page.on('websocket', (ws) => {
    sockets.push(ws.url());
    logs.push(`${name} websocket: ${ws.url()}`);
    ws.on('close', () => logs.push(`${name} websocket closed`));
  });
  const res = await page.goto(url, { timeout: TIMEOUT_MS });
  if (!res || res.status() !== 200) throw new Error(`${name}: GET ${url} answered ${res && res.status()}`);
  await page.waitForFunction(() => /^[a-z0-9]+-\d+-\d+$/.test(document.getElementById('me').textContent),
    null, { timeout: TIMEOUT_MS });
  return page;
}

async function waitLine(page, text) {
  await page.waitForFunction((s) => [...document.querySelectorAll('#log li')]
    .some((li) => li.textContent === s), text, { timeout: TIMEOUT_MS });
}

async function push(to, text) {
  const res = await fetch(`${urlB}push?to=${encodeURIComponent(to)}`, { method: 'POST', body: text });
  const body = await res.text();
  if (res.status !== 200 || !body.includes('"ok":true')) throw new Error(`push to ${to}: ${res.status} ${body}`);
}

async function main() {
  const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'];
  if (spki) args.push(`--ignore-certificate-errors-spki-list=${spki}`);
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args });
  const logs = [];
  const pages = {};
  try {
    const alice = pages.alice = await open(browser, 'alice', urlA, logs);
    const aliceId = await alice.textContent('#me');
    if (!aliceId.startsWith('a-')) throw new Error(`alice's id ${aliceId} is not node a's`);
    await alice.fill('#user', 'alice');
    await alice.click('#bind');
    await waitLine(alice, 'bound to alice');

    await push('user:alice', 'hello alice');
    await waitLine(alice, '[user:alice] http: hello alice');
    await push(`conn:${aliceId}`, 'just this tab');
    await waitLine(alice, `[conn:${aliceId}] http: just this tab`);
    await push('all', 'hello everyone');
    await waitLine(alice, '[all] http: hello everyone');

    const bob = pages.bob = await open(browser, 'bob', urlB, logs);
    const carol = pages.carol = await open(browser, 'carol', urlA, logs);
    const bobId = await bob.textContent('#me');
    if (!bobId.startsWith('b-')) throw new Error(`bob's id ${bobId} is not node b's`);
    for (const p of [bob, carol]) {
      await p.fill('#group', 'g1');
      await p.click('#join');
      await waitLine(p, 'joined g1');
    }
    await bob.fill('#to', 'g1');
    await bob.fill('#text', 'group hi');
    await bob.click('#send');
    const line = `[g1] ${bobId}: group hi`;
    await waitLine(carol, line);
    await waitLine(bob, line);
    // A push to all after it: once alice has that, she would have had the
    // group message too, had it been sent to her.
    await push('all', 'after the group');
    await waitLine(alice, '[all] http: after the group');
    const aliceLines = await alice.$$eval('#log li', (lis) => lis.map((li) => li.textContent));
    if (aliceLines.includes(line)) throw new Error('alice got a message of a group she is not in');
    if (sockets.length < 3 || !sockets.every((u) => new URL(u).protocol === wsScheme)) {
      throw new Error(`the pages' WebSockets are not all ${wsScheme}: ${JSON.stringify(sockets)}`);
    }
    console.log(`ok: over ${wsScheme.slice(0, -1)}, pushes crossed from node b to node a; ` +
      'the group message reached both nodes');
  } catch (e) {
    console.error(`FAIL: ${e.message}`);
    for (const [name, p] of Object.entries(pages)) {
      const lines = await p.$$eval('#log li', (lis) => lis.map((li) => li.textContent)).catch(() => []);
      console.error(`${name} saw: ${JSON.stringify(lines)}`);
    }
    for (const l of logs) console.error(l);
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}
main();
