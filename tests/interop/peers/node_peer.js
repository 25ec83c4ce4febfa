// Shared parts of the Node `ws` peers driven by the interop tests: JSON
// commands on stdin, JSON events on stdout, one per line (see peer.py).
'use strict';
const crypto = require('crypto');
const readline = require('readline');
const gen = require('./gen.js');

/** Writes one event line. */
function emit(event) {
  process.stdout.write(JSON.stringify(event) + '\n');
}

/** The event describing a received message. */
function messageEvent(data, isBinary) {
  const event = { ev: 'message', kind: isBinary ? 'binary' : 'text', len: data.length };
  event.sha1 = crypto.createHash('sha1').update(data).digest('hex');
  if (data.length <= gen.INLINE_LIMIT) {
    if (isBinary) event.hex = data.toString('hex');
    else event.text = data.toString('utf8');
  }
  return event;
}

/** HTTP headers as [name, value] pairs from Node's flat rawHeaders list. */
function headerPairs(raw) {
  const pairs = [];
  for (let i = 0; i < raw.length; i += 2) pairs.push([raw[i], raw[i + 1]]);
  return pairs;
}

/** Reports the events of `ws`: messages, pings, pongs, errors and the close. */
function watch(ws) {
  ws.on('message', (data, isBinary) => emit(messageEvent(data, isBinary)));
  ws.on('ping', (data) => emit({ ev: 'ping', hex: data.toString('hex') }));
  ws.on('pong', (data) => emit({ ev: 'pong', hex: data.toString('hex') }));
  ws.on('error', (err) => emit({ ev: 'error', message: String(err && err.message) }));
  ws.on('close', (code, reason) => emit({ ev: 'close', code, reason: reason.toString('utf8') }));
}

/** Sends `data` in `pieces` frames, splitting bytes (text may split inside a character). */
async function sendFragments(ws, data, isBinary, pieces) {
  const bytes = Buffer.from(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
  const size = Math.max(Math.ceil(bytes.length / pieces), 1);
  const chunks = [];
  for (let i = 0; i < Math.max(bytes.length, 1); i += size) chunks.push(bytes.subarray(i, i + size));
  for (let i = 0; i < chunks.length; i++) {
    await new Promise((resolve, reject) =>
      ws.send(chunks[i], { binary: isBinary, fin: i === chunks.length - 1 }, (e) => (e ? reject(e) : resolve())));
  }
}

/** Runs one `send`, `ping`, `close` or `abort` command on `ws`. */
async function runCommand(ws, cmd) {
  if (!ws) return emit({ ev: 'error', message: `${cmd.op}: no connection` });
  if (cmd.op === 'send') {
    const data = gen.payload(cmd);
    const isBinary = cmd.kind === 'binary';
    if (cmd.fragments) await sendFragments(ws, data, isBinary, cmd.fragments);
    else await new Promise((resolve, reject) => ws.send(data, { binary: isBinary }, (e) => (e ? reject(e) : resolve())));
    emit({ ev: 'sent' });
  } else if (cmd.op === 'ping') {
    ws.ping(Buffer.from(cmd.hex || '', 'hex'));
  } else if (cmd.op === 'close') {
    ws.close(cmd.code, cmd.reason);
  } else if (cmd.op === 'abort') {
    // Drop the TCP connection without a close frame.
    ws.terminate();
  } else {
    emit({ ev: 'error', message: `unknown command ${cmd.op}` });
  }
}

/** Calls `onCommand` for each command line, one after the other; `onEnd` when stdin closes. */
function commands(onCommand, onEnd) {
  let chain = Promise.resolve();
  const lines = readline.createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (!line.trim()) return;
    chain = chain
      .then(() => onCommand(JSON.parse(line)))
      .catch((err) => emit({ ev: 'error', message: String(err && err.message) }));
  });
  lines.on('close', () => chain.then(onEnd));
}

module.exports = { emit, headerPairs, watch, runCommand, commands };
