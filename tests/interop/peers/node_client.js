// A Node `ws` client driven by JSON commands on stdin (see node_peer.js):
// `connect` (url, subprotocols, headers, origin, ca), then `send`, `ping`, `close`;
// `swarm` opens many connections at once.
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

/**
 * `swarm`: opens `count` connections to `url` at once; each sends its number
 * as text and waits for the echo. Reports a `swarm` event (opened, echoed,
 * failed), then closes them all with 1000 and reports `swarm_closed` with the
 * close codes it got back.
 */
async function swarm(cmd) {
  const sockets = [];
  const results = await Promise.all(Array.from({ length: cmd.count }, (_, i) => new Promise((resolve) => {
    const socket = new WebSocket(cmd.url);
    sockets.push(socket);
    socket.on('open', () => socket.send(String(i)));
    socket.on('message', (data) => resolve(data.toString() === String(i) ? 'echoed' : 'wrong echo'));
    socket.on('error', (err) => resolve(`error: ${err.message}`));
  })));
  const count = (r) => results.filter((x) => x === r).length;
  const failures = results.filter((x) => x !== 'echoed');
  peer.emit({ ev: 'swarm', echoed: count('echoed'), failures: failures.slice(0, 5), failed: failures.length });
  const codes = await Promise.all(sockets.map((socket) => new Promise((resolve) => {
    if (socket.readyState !== WebSocket.OPEN) return resolve(null);
    socket.on('close', (code) => resolve(code));
    socket.close(1000);
  })));
  peer.emit({ ev: 'swarm_closed', clean: codes.filter((c) => c === 1000).length });
}

peer.commands(
  (cmd) => (cmd.op === 'connect' ? connect(cmd) : cmd.op === 'swarm' ? swarm(cmd) : peer.runCommand(ws, cmd)),
  () => process.exit(0),
);
