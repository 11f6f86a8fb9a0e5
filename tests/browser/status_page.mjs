// Drives the status page of `ferry serve` in headless Chromium, with JavaScript off:
//   node tests/browser/status_page.mjs --url URL --sync NAME --screenshot PATH
//                                      [--token TOKEN] [--timeout-ms N]
// Signs in when the page shows form.sign-in (and --token is given), reads the section of
// the sync NAME, clicks its "run now" button, reloads until a new run has finished (or
// --timeout-ms passes), takes a full-page screenshot and prints one JSON object:
//   {"before": SECTION, "after": SECTION, "new_run": {id, status} | null,
//    "timed_out": bool, "screenshot": PATH, "url_after_click": URL}
//   SECTION = {state, runs: [{id, status}], failures: [{category, heading, advice: [..]}], text}
// Errors go to stderr, with exit code 1.
// playwright-core comes from tests/servers/ensure-chromium.sh: $FERRY_PLAYWRIGHT_DIR, or
// ${FERRY_TEST_SERVERS:-${XDG_CACHE_HOME:-~/.cache}/ferry-test-servers}/playwright.
// The browser is Debian's, $FERRY_CHROMIUM or /usr/bin/chromium.
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string' },
    sync: { type: 'string' },
    screenshot: { type: 'string' },
    token: { type: 'string' },
    'timeout-ms': { type: 'string', default: '60000' },
  },
});
for (const name of ['url', 'sync', 'screenshot']) {
  if (args[name] === undefined) fail(`--${name} is missing`);
}
const timeoutMs = Number(args['timeout-ms']);
if (!Number.isInteger(timeoutMs) || timeoutMs < 0) fail(`--timeout-ms: not a number of milliseconds: ${args['timeout-ms']}`);

function fail(message) {
  console.error(`status_page: ${message}`);
  process.exit(1);
}

function loadPlaywright() {
  const cache = process.env.FERRY_TEST_SERVERS
    ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'ferry-test-servers');
  const dir = process.env.FERRY_PLAYWRIGHT_DIR ?? join(cache, 'playwright');
  try {
    // Resolves from DIR/node_modules (DIR may also be that node_modules folder itself).
    return createRequire(join(dir, 'noop.js'))('playwright-core');
  } catch (e) {
    fail(`cannot load playwright-core from ${dir} (run tests/servers/ensure-chromium.sh): ${e.message}`);
  }
}

// A CSS string literal holding `value`, for an attribute selector.
const cssString = (value) =>
  '"' + value.replace(/[\\"]/g, '\\$&').replace(/[\n\r\f]/g, (c) => `\\${c.charCodeAt(0).toString(16)} `) + '"';

// What the section of the sync shows; runs in the page (Playwright's evaluation works
// with the page's JavaScript off).
function readSection(sections, name) {
  const section = sections.find((s) => s.getAttribute('data-sync') === name);
  if (!section) return { missing: sections.map((s) => s.getAttribute('data-sync')) };
  const text = (element) => element?.innerText.trim() ?? null;
  return {
    state: section.querySelector('.state')?.getAttribute('data-state') ?? null,
    runs: [...section.querySelectorAll('tr[data-run]')].map((tr) => ({
      id: Number(tr.getAttribute('data-run')),
      status: tr.getAttribute('data-status'),
    })),
    failures: [...section.querySelectorAll('.failures .category')].map((c) => ({
      category: c.getAttribute('data-category'),
      heading: text(c.querySelector('h1, h2, h3, h4, h5, h6')),
      advice: [...c.querySelectorAll('p.advice')].map(text),
    })),
    text: section.innerText,
  };
}

async function read(page) {
  const result = await page.$$eval('section.sync', readSection, args.sync);
  if (result.missing) {
    const signIn = (await page.locator('form.sign-in').count()) > 0
      ? ' (the page shows form.sign-in: pass --token)' : '';
    const present = result.missing.length ? result.missing.map((n) => JSON.stringify(n)).join(', ') : 'none';
    throw new Error(`no section.sync[data-sync=${JSON.stringify(args.sync)}] at ${page.url()}${signIn}; `
      + `data-sync values present: ${present}`);
  }
  return result;
}

const { chromium } = loadPlaywright();
const browser = await chromium.launch({
  executablePath: process.env.FERRY_CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox'],
});
try {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(args.url);

  // a. Sign in.
  const signIn = page.locator('form.sign-in');
  if (args.token !== undefined && (await signIn.count()) > 0) {
    await signIn.locator('input[name=token]').fill(args.token);
    const submit = signIn.locator('button, input[type=submit]');
    const [response] = await Promise.all([
      page.waitForNavigation(),
      (await submit.count()) > 0 ? submit.first().click() : signIn.locator('input[name=token]').press('Enter'),
    ]);
    if ((await signIn.count()) > 0) {
      throw new Error(`still on form.sign-in after signing in with --token (HTTP ${response?.status()} at ${page.url()})`);
    }
  }

  // b. The section before.
  const before = await read(page);
  const lastBefore = Math.max(0, ...before.runs.map((r) => r.id));

  // c. Run now: a form POST, answered with 303 to the page.
  const button = page.locator(`section.sync[data-sync=${cssString(args.sync)}] button.run-now`);
  const [response] = await Promise.all([page.waitForNavigation(), button.click()]);
  const urlAfterClick = page.url();
  if (response && response.status() >= 400) {
    throw new Error(`clicking button.run-now ended with HTTP ${response.status()} at ${urlAfterClick}`);
  }

  // d. Reload until a new run has finished.
  const deadline = Date.now() + timeoutMs;
  let after;
  let newRun = null;
  for (;;) {
    after = await read(page);
    const finished = after.runs.filter((r) => r.id > lastBefore && r.status !== 'running');
    if (finished.length) {
      newRun = finished.reduce((a, b) => (b.id > a.id ? b : a));
      break;
    }
    if (Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 300));
    await page.reload();
  }

  // e., f.
  await page.screenshot({ path: args.screenshot, fullPage: true });
  console.log(JSON.stringify({
    before, after, new_run: newRun, timed_out: newRun === null,
    screenshot: args.screenshot, url_after_click: urlAfterClick,
  }));
} catch (e) {
  console.error(`status_page: ${e.message.replace(/\x1b\[[0-9;]*m/g, '')}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
