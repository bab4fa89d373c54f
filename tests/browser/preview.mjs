// Drives headless Chromium through the data request form's "Preview" button: open the form,
// tick a variable, type index ranges, choose a palette, press "Preview" and wait for the
// picture. Prints one JSON object: the picture's URL, its natural size, and the error text the
// form shows when there is no picture. tests/clients/test_png.py checks them.
//
// usage: node preview.mjs BASE_URL DATASET VARIABLE PALETTE RANGE...
//   e.g. node preview.mjs http://127.0.0.1:8080 classic.nc temperature magma 0 0:5 0:7

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [base, dataset, variable, palette, ...ranges] = process.argv.slice(2);
if (!base || !dataset || !variable || !palette) {
  console.error('usage: node preview.mjs BASE_URL DATASET VARIABLE PALETTE RANGE...');
  process.exit(2);
}

// No outside network here: keep Chromium from waiting on connections it tries at start.
const profile = mkdtempSync(join(tmpdir(), 'fathom-chromium-'));
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
  await page.goto(`${base}/${dataset}.html`);
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
  await page.selectOption('#palette', palette);
  await page.click('#preview-button');
  // Either the picture loads or the form shows the server's error.
  await page.waitForFunction(() => {
    const img = document.getElementById('preview');
    const err = document.getElementById('preview-error');
    return (img.complete && img.naturalWidth > 0 && !img.hidden) || err.textContent.length > 0;
  });
  const result = await page.evaluate(() => {
    const img = document.getElementById('preview');
    return {
      src: img.src,
      naturalWidth: img.naturalWidth,
      naturalHeight: img.naturalHeight,
      shownWidth: img.getBoundingClientRect().width,
      error: document.getElementById('preview-error').textContent,
    };
  });
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
