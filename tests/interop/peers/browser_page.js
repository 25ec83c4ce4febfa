// The in-page side of the Chromium peer: a `WebSocket` driven by commands
// from browser_client.js, reporting events through `window.wsxReport`.
'use strict';
(function () {
  let ws = null;
  // Events go out in order, even though hashing a message is asynchronous.
  let chain = Promise.resolve();
  const report = (make) => {
    chain = chain.then(make).then((event) => window.wsxReport(event));
  };

  async function messageEvent(data) {
    const isBinary = typeof data !== 'string';
    const bytes = isBinary ? new Uint8Array(data) : new TextEncoder().encode(data);
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-1', bytes));
    const event = { ev: 'message', kind: isBinary ? 'binary' : 'text', len: bytes.length, sha1: wsxGen.toHex(digest) };
    if (bytes.length <= wsxGen.INLINE_LIMIT) {
      if (isBinary) event.hex = wsxGen.toHex(bytes);
      else event.text = data;
    }
    return event;
  }

  /** Runs one command: connect (resolves once open or failed), send, close. */
  window.wsxCommand = async function (cmd) {
    if (cmd.op === 'connect') {
      ws = new WebSocket(cmd.url, cmd.subprotocols || []);
      ws.binaryType = 'arraybuffer';
      ws.onmessage = (e) => report(() => messageEvent(e.data));
      ws.onerror = () => report(() => ({ ev: 'error', message: 'WebSocket error event' }));
      await new Promise((resolve) => {
        ws.onopen = () => resolve(report(() => ({ ev: 'open', subprotocol: ws.protocol || null })));
        ws.onclose = (e) => resolve(report(() => ({ ev: 'close', code: e.code, reason: e.reason, clean: e.wasClean })));
      });
    } else if (cmd.op === 'send') {
      ws.send(wsxGen.payload(cmd));
      report(() => ({ ev: 'sent' }));
    } else if (cmd.op === 'close') {
      ws.close(cmd.code, cmd.reason);
    } else {
      report(() => ({ ev: 'error', message: `unknown command ${cmd.op}` }));
    }
  };
})();
