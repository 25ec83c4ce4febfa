// Test payloads and fragmenting shared by the Node peers and the Chromium page:
// the same bytes as peer.py and the Rust side (`wsx_interop::payload`).
(function (exports) {
  'use strict';
  const TEXT_UNIT = 'wsx \u2713 \u00e9 \u{1f680} ';
  const TEXT_UNIT_LEN = new TextEncoder().encode(TEXT_UNIT).length;
  const BLOCK_LEN = 251;

  /** The test payload: a string for "text", a Uint8Array for "binary". */
  exports.generate = function (kind, length) {
    if (kind === 'binary') {
      const out = new Uint8Array(length);
      for (let i = 0; i < length; i++) out[i] = ((i % BLOCK_LEN) * 7 + 3) % BLOCK_LEN;
      return out;
    }
    const units = Math.floor(length / TEXT_UNIT_LEN);
    return TEXT_UNIT.repeat(units) + 'a'.repeat(length - units * TEXT_UNIT_LEN);
  };

  /** The payload a `send` command asks for. */
  exports.payload = function (cmd) {
    if (cmd.gen !== undefined) return exports.generate(cmd.kind, cmd.gen);
    // `hex` may give a text message raw bytes, even invalid UTF-8.
    if (cmd.hex !== undefined) return exports.fromHex(cmd.hex);
    return cmd.text || '';
  };

  /** Bytes from a hex string. */
  exports.fromHex = function (hex) {
    const out = new Uint8Array(hex.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(2 * i, 2), 16);
    return out;
  };

  /** A hex string from bytes. */
  exports.toHex = function (bytes) {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  };

  /** Messages up to this size are echoed in full in events. */
  exports.INLINE_LIMIT = 4096;
})(typeof module === 'object' ? module.exports : (window.wsxGen = {}));
