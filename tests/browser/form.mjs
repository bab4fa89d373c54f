// Drives headless Chromium through fathom's pages as a person would: open the folder listing,
// follow a dataset's data request form, tick a variable, type index ranges, press "Get ASCII".
// Prints one JSON object: the form's Data URL, the ASCII page's URL and its text. The values
// are checked by tests/clients/test_http_browser.py against a local read of the file.
//
// usage: node form.mjs BASE_URL DATASET VARIABLE RANGE... [--screenshot FILE]
//   e.g. node form.mjs http://127.0.0.1:8080 classic.nc temperature 1:2 0:2:4 3

import { fillForm, withPage } from './browser.mjs';

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

await withPage(async (page) => {
  // The root listing, then the dataset's "form" link.
  await page.goto(base + '/');
  await page.click(`a[href="${dataset}.html"]`);
  await page.waitForURL(`**/${dataset}.html`);

  const fieldset = await fillForm(page, variable, ranges);
  const dataUrl = await page.inputValue('#data-url');
  if (screenshot) {
    await fieldset.scrollIntoViewIfNeeded();
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: screenshot });
  }

  await Promise.all([page.waitForURL('**/*.ascii*'), page.click('#get-ascii')]);
  const text = await page.evaluate(() => document.body.innerText);
  console.log(JSON.stringify({ dataUrl, asciiUrl: page.url(), text }));
});
