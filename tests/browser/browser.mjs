// What the browser tests share: starting headless Chromium with a fresh profile, and filling in
// a dataset's data request form (tick a variable, type one index range per dimension).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

// Runs `body(page)` in a fresh headless Chromium and closes it afterwards, whatever happens.
export async function withPage(body) {
  // A fresh profile each run (playwright passes it as --user-data-dir).
  const profile = mkdtempSync(join(tmpdir(), 'fathom-chromium-'));
  // This machine has no outside network: without these flags Chromium waits on connections it
  // tries to make at start (updates, sync, QUIC probes).
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
    return await body(page);
  } finally {
    await browser.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

// Ticks `variable` on the open form and types `ranges` into its dimension boxes; returns the
// variable's fieldset.
export async function fillForm(page, variable, ranges) {
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
  return fieldset;
}
