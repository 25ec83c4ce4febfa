// A Node `ws` client driven by JSON commands on stdin (see node_peer.js):
// `connect` (url, subprotocols, headers, origin, ca), then `send`, `ping`, `close`.
'use strict';
const fs = require('fs');
const WebSocket = require('ws');
const peer = require('./node_peer.js');

let ws = null;

/** Opens the connection a `connect` command describes; resolves once it opened or failed. */
function connect(cmd) {
  const options = { headers: Object.fromEntries(cmd.headers || []), maxPayload: 64 << 20 };
  if (cmd.origin) options.origin = cmd.origin;
  if (cmd.ca) options.ca = fs.readFileSync(cmd.ca);
  const socket = new WebSocket(cmd.url, cmd.subprotocols || [], options);
  return new Promise((resolve) => {
    socket.on('upgrade', (res) => {
      socket.once('open', () => {
        peer.emit({ ev: 'open', subprotocol: socket.protocol || null, status: res.statusCode,
          headers: peer.headerPairs(res.rawHeaders) });
        ws = socket;
        peer.watch(socket);
        resolve();
      });
    });
    socket.on('unexpected-response', (req, res) => {
      const body = [];
      res.on('data', (chunk) => body.push(chunk));
      res.on('end', () => {
        peer.emit({ ev: 'refused', status: res.statusCode, body: Buffer.concat(body).toString('utf8'),
          headers: peer.headerPairs(res.rawHeaders) });
        req.destroy();
        resolve();
      });
    });
    socket.once('error', (err) => {
      if (ws !== socket) {
        peer.emit({ ev: 'error', message: String(err && err.message) });
        resolve();
      }
    });
  });
}

peer.commands(
  (cmd) => (cmd.op === 'connect' ? connect(cmd) : peer.runCommand(ws, cmd)),
  () => process.exit(0),
);
