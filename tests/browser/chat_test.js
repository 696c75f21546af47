// SPDX-License-Identifier: MIT
// Drives Debian's chromium (headless, through playwright-core) against
// example-ws-chat: two browser contexts (two users) open the chat page, wait
// for their WebSocket to be connected, and each sends a line the other must
// see. Exits 0 when both lines crossed, 1 (with what each page showed and
// logged) otherwise.
//
// Usage: node chat_test.js URL [SPKI_SHA256_BASE64]
//   URL   the chat page, http://... or https://...
//   SPKI  for https: the base64 SHA-256 of the server certificate's public key;
//         chromium then accepts that certificate and no other (the test CA is
//         made at test time, so it is not in any trust store).
'use strict';
const path = require('path');
const { chromium } = require(path.join(__dirname, '../node/node_modules/playwright-core'));

const [url, spki] = process.argv.slice(2);
if (!url) {
  console.error('usage: node chat_test.js URL [SPKI_SHA256_BASE64]');
  process.exit(2);
}
const TIMEOUT_MS = 15000;

async function openUser(browser, name, logs) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('console', (m) => logs.push(`${name} console: ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`${name} error: ${e.message}`));
  page.on('websocket', (ws) => {
    logs.push(`${name} websocket: ${ws.url()}`);
    ws.on('close', () => logs.push(`${name} websocket closed`));
  });
  const res = await page.goto(url, { timeout: TIMEOUT_MS });
  if (!res || res.status() !== 200) throw new Error(`${name}: GET ${url} answered ${res && res.status()}`);
  await page.waitForFunction(() => document.getElementById('status').textContent === 'connected',
    null, { timeout: TIMEOUT_MS });
  return page;
}

async function say(page, text) {
  await page.fill('#text', text);
  await page.click('#send');
}

async function waitLine(page, suffix) {
  await page.waitForFunction((s) => [...document.querySelectorAll('#log li')]
    .some((li) => li.textContent.endsWith(s)), suffix, { timeout: TIMEOUT_MS });
}

async function main() {
  const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'];
  if (spki) args.push(`--ignore-certificate-errors-spki-list=${spki}`);
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args });
  const logs = [];
  const pages = [];
  try {
    const alice = await openUser(browser, 'alice', logs);
    pages.push(alice);
    const bob = await openUser(browser, 'bob', logs);
    pages.push(bob);
    const tag = Math.random().toString(36).slice(2);
    // Unicode on purpose: the text frames must carry UTF-8 both ways.
    const a = `hello from alice ${tag} é✓`;
    const b = `hi alice, bob here ${tag} 🙂`;
    await say(alice, a);
    await waitLine(bob, a);
    await waitLine(alice, a); // the sender sees its own line too
    await say(bob, b);
    await waitLine(alice, b);
    console.log(`ok   two pages exchanged messages over ${url.startsWith('https') ? 'wss' : 'ws'}`);
  } catch (e) {
    console.log(`FAIL: ${e.message}`);
    for (const [i, p] of pages.entries()) {
      const shown = await p.evaluate(() => document.getElementById('status').textContent + ' | ' +
        [...document.querySelectorAll('#log li')].map((li) => li.textContent).join(' | ')).catch(() => '?');
      console.log(`page ${i}: ${shown}`);
    }
    for (const l of logs) console.log(l);
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}

main().catch((e) => { console.log(`FAIL: ${e.stack || e}`); process.exit(1); });
