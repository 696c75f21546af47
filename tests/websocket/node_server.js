// SPDX-License-Identifier: MIT
// node's `ws` as a server for our client (wm_ws_tests --client): echoes,
// and obeys text commands: "!close CODE REASON", "!drop" (TCP close, no
// close frame), "!last" ("CODE REASON" of the last closed connection),
// "!hdr NAME" (that header of this connection's handshake request), "!frag"
// (a message sent in three fragments). Accepts the subprotocol "chat".
// Prints its port on stdout once listening.
// Usage: node node_server.js [--tls CERT KEY]
'use strict';
const fs = require('fs');
const path = require('path');
const https = require('https');
const WebSocket = require(path.join(__dirname, '../node/node_modules/ws'));

const tlsIdx = process.argv.indexOf('--tls');
let server;
const opts = {
  maxPayload: 64 << 20,
  handleProtocols: (protocols) => (protocols.has('chat') ? 'chat' : false),
};
if (tlsIdx > 0) {
  server = https.createServer({
    cert: fs.readFileSync(process.argv[tlsIdx + 1]),
    key: fs.readFileSync(process.argv[tlsIdx + 2]),
  });
  opts.server = server;
} else {
  opts.port = 0;
  opts.host = '127.0.0.1';
}
const wss = new WebSocket.Server(opts);
let last = 'none';
wss.on('connection', (ws, req) => {
  ws.on('close', (code, reason) => (last = `${code} ${reason.toString()}`));
  ws.on('message', (data, isBinary) => {
    const text = isBinary ? '' : data.toString();
    let m;
    if ((m = /^!close (\d+) (.*)$/.exec(text))) ws.close(Number(m[1]), m[2]);
    else if (text === '!drop') ws._socket.destroy();
    else if (text === '!last') ws.send(last);
    else if ((m = /^!hdr (.+)$/.exec(text))) ws.send(String(req.headers[m[1]]));
    else if (text === '!frag') {
      ws.send('fragm', { fin: false });
      ws.send('ented ', { fin: false });
      ws.send('message', { fin: true });
    } else ws.send(data, { binary: isBinary });
  });
});
function ready() {
  console.log(String((server || wss).address().port));
}
if (server) server.listen(0, '127.0.0.1', ready);
else wss.on('listening', ready);
