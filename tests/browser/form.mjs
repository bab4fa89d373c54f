// Drives headless Chromium through fathom's pages as a person would: open the folder listing,
// follow a dataset's data request form, tick a variable, type index ranges, press "Get ASCII".
// Prints one JSON object: the form's Data URL, the ASCII page's URL and its text. The values
// are checked by tests/clients/test_http_browser.py against a local read of the file.
//
// usage: node form.mjs BASE_URL DATASET VARIABLE RANGE... [--screenshot FILE]
//   e.g. node form.mjs http://127.0.0.1:8080 classic.nc temperature 1:2 0:2:4 3

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const args = process.argv.slice(2);
let screenshot = null;
const shot = args.indexOf('--screenshot');
if (shot >= 0) {
  screenshot = args[shot + 1];
  args.splice(shot, 2);
}
const [base, dataset, variable, ...ranges] = args;
if (!base || !dataset || !variable) {
  console.error('usage: node form.mjs BASE_URL DATASET VARIABLE RANGE... [--screenshot FILE]');
  process.exit(2);
}

// This machine has no outside network: without these flags Chromium waits on connections it
// tries to make at start (updates, sync, QUIC probes).
const profile = mkdtempSync(join(tmpdir(), 'fathom-chromium-'));
// A fresh profile each run (playwright passes it as --user-data-dir).
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  timeout: 60_000,
  viewport: { width: 1100, height: 900 },
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(30_000);

  // The root listing, then the dataset's "form" link.
  await page.goto(base + '/');
  await page.click(`a[href="${dataset}.html"]`);
  await page.waitForURL(`**/${dataset}.html`);

  const fieldset = page.locator(`fieldset.var[data-name="${variable}"]`);
  await fieldset.locator('input.pick').check();
  const boxes = fieldset.locator('input.dim');
  const count = await boxes.count();
  if (count !== ranges.length) {
    throw new Error(`${variable} has ${count} dimensions, ${ranges.length} ranges were given`);
  }
  for (let i = 0; i < count; i++) {
    await boxes.nth(i).fill(ranges[i]);
  }
  const dataUrl = await page.inputValue('#data-url');
  if (screenshot) {
    await fieldset.scrollIntoViewIfNeeded();
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: screenshot });
  }

  await Promise.all([page.waitForURL('**/*.ascii*'), page.click('#get-ascii')]);
  const text = await page.evaluate(() => document.body.innerText);
  console.log(JSON.stringify({ dataUrl, asciiUrl: page.url(), text }));
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
