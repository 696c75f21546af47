// SPDX-License-Identifier: MIT
// The anchor of bench/run ws: node's `ws` as a WebSocket echo server, every
// message sent back as it came (text as text, binary as binary). Listens on
// 127.0.0.1, on PORT or on a free port when it is 0 or absent, and prints the
// port it listens on, alone on a line, once it listens.
//   node bench/ws_echo_server.js [PORT]
// `ws` comes from tests/node/node_modules (scripts/deps.sh test). Its optional
// native helpers (bufferutil, utf-8-validate) are not installed there: this
// is ws as `npm install ws` gives it.
'use strict';
const path = require('path');
const { WebSocketServer } = require(path.join(__dirname, '..', 'tests', 'node', 'node_modules', 'ws'));

const port = Number(process.argv[2] || 0);
const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false });
wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on('error', () => ws.terminate());
});
wss.on('listening', () => console.log(wss.address().port));
wss.on('error', (err) => {
    console.error(`ws_echo_server: ${err.message}`);
    process.exit(1);
});
process.on('SIGTERM', () => process.exit(0));
