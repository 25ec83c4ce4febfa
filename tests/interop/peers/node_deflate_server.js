// node_server.js with permessage-deflate on (`ws` servers leave it off by
// default): every message of 64 bytes or more is compressed. Same options,
// commands and events as node_server.js.
'use strict';
const ws = require('ws');

class DeflateServer extends ws.WebSocketServer {
  constructor(options, callback) {
    super({ perMessageDeflate: { threshold: 64 }, ...options }, callback);
  }
}
ws.WebSocketServer = DeflateServer;
ws.Server = DeflateServer;
require('./node_server.js');
