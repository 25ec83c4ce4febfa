// A headless Chromium page (Debian's chromium driven by playwright-core) as a
// WebSocket client, driven by JSON commands on stdin like the other client
// peers (see node_peer.js): `connect` (url, subprotocols), `send`, `close`.
// The page is served from 127.0.0.1 here, so its Origin is `http://127.0.0.1:PORT`.
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');
const { chromium } = require('playwright-core');
const peer = require('./node_peer.js');

const PAGE = '<!doctype html><title>wsx</title><script src="/gen.js"></script><script src="/browser_page.js"></script>';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** Serves the page and its two scripts on 127.0.0.1; resolves to the server. */
function servePage() {
  const server = http.createServer((req, res) => {
    const file = { '/gen.js': 'gen.js', '/browser_page.js': 'browser_page.js' }[req.url];
    if (file) {
      res.writeHead(200, { 'Content-Type': 'text/javascript' });
      res.end(fs.readFileSync(path.join(__dirname, file)));
    } else {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end(PAGE);
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function main() {
  const server = await servePage();
  const browser = await chromium.launch({
    executablePath: process.env.WSX_CHROMIUM || '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
  });
  // wsx's wss:// test servers present certificates of a test CA that
  // Chromium has no way to be told of here, so certificate errors are
  // ignored: what runs over wss:// is wsx's TLS against Chromium's.
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  page.on('pageerror', (err) => peer.emit({ ev: 'error', message: `page: ${err.message}` }));
  await page.exposeFunction('wsxReport', (event) => peer.emit(event));
  const origin = `http://127.0.0.1:${server.address().port}`;
  await page.goto(`${origin}/`);
  peer.emit({ ev: 'page', origin });
  peer.commands(
    (cmd) => page.evaluate((c) => window.wsxCommand(c), cmd),
    async () => {
      await browser.close();
      process.exit(0);
    },
  );
}

main().catch((err) => {
  peer.emit({ ev: 'error', message: `browser: ${err.message}` });
  process.exit(1);
});
