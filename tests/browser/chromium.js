// Headless Chromium as the browser tests and the screenshot use it: the
// system's (Debian's chromium, or $CHROMIUM), never one Playwright downloads;
// --no-sandbox only as root, where Chromium refuses to start with it.
'use strict';

function launchChromium(chromium) {
  const args = typeof process.getuid === 'function' && process.getuid() === 0 ? ['--no-sandbox'] : [];
  return chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args });
}

module.exports = { launchChromium };
