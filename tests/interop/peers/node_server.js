// A Node `ws` server on 127.0.0.1 (or --host) driven by JSON commands on stdin (see node_peer.js).
// Prints `ready PORT`, then an `open` event per connection; `send`, `ping` and `close`
// act on the latest one. Options: --host ADDRESS, --subprotocol NAME (repeatable), --refuse STATUS,
// --cert FILE --key FILE (TLS).
'use strict';
const fs = require('fs');
const http = require('http');
const https = require('https');
const { WebSocketServer } = require('ws');
const peer = require('./node_peer.js');

const args = { host: '127.0.0.1', subprotocols: [], refuse: null, cert: null, key: null };
for (let i = 2; i < process.argv.length; i += 2) {
  const [flag, value] = [process.argv[i], process.argv[i + 1]];
  if (flag === '--host') args.host = value;
  else if (flag === '--subprotocol') args.subprotocols.push(value);
  else if (flag === '--refuse') args.refuse = Number(value);
  else if (flag === '--cert') args.cert = value;
  else if (flag === '--key') args.key = value;
  else throw new Error(`unknown option ${flag}`);
}

const server = args.cert
  ? https.createServer({ cert: fs.readFileSync(args.cert), key: fs.readFileSync(args.key) })
  : http.createServer();
const wss = new WebSocketServer({
  server,
  maxPayload: 64 << 20,
  handleProtocols: (offered) => args.subprotocols.find((p) => offered.has(p)) || false,
  verifyClient: (info, done) => (args.refuse ? done(false, args.refuse, 'refused by the test peer') : done(true)),
});
let current = null;
wss.on('connection', (ws, req) => {
  current = ws;
  peer.emit({ ev: 'open', path: req.url, headers: peer.headerPairs(req.rawHeaders), subprotocol: ws.protocol || null });
  peer.watch(ws);
});
server.listen(0, args.host, () => {
  process.stdout.write(`ready ${server.address().port}\n`);
  peer.commands((cmd) => peer.runCommand(current, cmd), () => process.exit(0));
});
