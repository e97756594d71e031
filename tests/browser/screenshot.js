// The picture of a dossier the README shows (docs/images/dossier.png): the
// page's first screen at 1280x1000 CSS pixels in headless Chromium (the
// system's, as the browser test uses it), as a PNG.
//
//   node tests/browser/screenshot.js DOSSIER.html OUT.png
//
// make demo writes build/demo-dossier.html, the dossier of a real metered
// lineage; docs/dossier.md says how the committed picture was made.
'use strict';
const path = require('path');
const { pathToFileURL } = require('url');

const [html, out] = process.argv.slice(2);
if (!html || !out) {
  console.error('usage: node tests/browser/screenshot.js DOSSIER.html OUT.png');
  process.exit(2);
}
const { chromium } = require(path.join(__dirname, '../reference/node_modules/playwright-core'));
const { launchChromium } = require('./chromium');

(async () => {
  const browser = await launchChromium(chromium);
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    // The dossier needs nothing but itself; refuse anything else.
    await page.route('**/*', (route) => (route.request().url().startsWith('file:') ? route.continue() : route.abort()));
    await page.goto(pathToFileURL(path.resolve(html)).href, { waitUntil: 'load' });
    await page.screenshot({ path: out, type: 'png' });
  } finally {
    await browser.close();
  }
  console.log(out);
})().catch((e) => {
  console.error(`screenshot: ${e.stack || e}`);
  process.exit(1);
});
