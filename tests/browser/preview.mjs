// Drives headless Chromium through the data request form's "Preview" button: open the form,
// tick a variable, type index ranges, choose a palette, press "Preview" and wait for the
// picture. Prints one JSON object: the picture's URL, its natural size, and the error text the
// form shows when there is no picture. tests/clients/test_png.py checks them.
//
// usage: node preview.mjs BASE_URL DATASET VARIABLE PALETTE RANGE...
//   e.g. node preview.mjs http://127.0.0.1:8080 classic.nc temperature magma 0 0:5 0:7

import { fillForm, withPage } from './browser.mjs';

const [base, dataset, variable, palette, ...ranges] = process.argv.slice(2);
if (!base || !dataset || !variable || !palette) {
  console.error('usage: node preview.mjs BASE_URL DATASET VARIABLE PALETTE RANGE...');
  process.exit(2);
}

await withPage(async (page) => {
  await page.goto(`${base}/${dataset}.html`);
  await fillForm(page, variable, ranges);
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
});
