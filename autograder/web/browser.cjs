// Open decks and pages in Debian's Chromium (playwright-core drives it; no browser download) and report
// what a reader would get. Called by autograder/slides.py:
//
//     NODE_PATH=build/web/node_modules node browser.cjs jobs.json  ->  JSON list of results on stdout
//
// jobs.json: {"chromium": "/usr/bin/chromium", "jobs": [{"kind": "deck"|"print"|"page", "url": "file:///...",
//             "pdf": "out.pdf" (print only), "screenshot": "out.png" (deck: the first slide with math)}]}
//
// Every http(s) request is blocked and counted as external: the decks and the site must work offline,
// so a request that leaves the machine is a bug whether or not a network is there.
'use strict';
const fs = require('fs');
const { chromium } = require('playwright-core');

const WAIT_MS = 60000;

// page.evaluate has no timeout of its own.
function withTimeout(promise, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${WAIT_MS / 1000} s: ${what}`)), WAIT_MS);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

function log(message) {
  if (process.env.RNN_COURSE_BROWSER_LOG) { process.stderr.write(`[browser] ${message}\n`); }
}

// Resolves once MathJax has finished its start-up typeset and everything queued before the call.
const MATH_DONE = () => new Promise((resolve) => {
  if (!(window.MathJax && window.MathJax.Hub)) { resolve(false); return; }
  // Braces matter: a hook that returns MathJax's queue callback makes the start-up wait for it (deadlock).
  MathJax.Hub.Register.StartupHook('End', () => { MathJax.Hub.Queue(() => { resolve(true); }); });
});

// Formulas MathJax found (one <script type="math/tex"> each), typeset (one frame each), failed, visible.
const MATH_COUNTS = () => {
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    if (r.width <= 0 || r.height <= 0) { return false; }
    for (let e = el; e; e = e.parentElement) {
      const s = getComputedStyle(e);
      if (s.visibility === 'hidden' || s.display === 'none' || parseFloat(s.opacity) === 0) { return false; }
    }
    return true;
  };
  // In a deck, only the slides: reveal copies the current slide's text (with its $...$) into an
  // aria-status element for screen readers, where MathJax typesets it a second time.
  const root = document.querySelector('.reveal .slides') || document;
  const frames = Array.from(root.querySelectorAll('[id^="MathJax-Element-"][id$="-Frame"]'));
  return {
    found: root.querySelectorAll('script[type^="math/tex"]').length,
    typeset: frames.length,
    errors: root.querySelectorAll('.mjx-merror, .mjx-noError, .MathJax_Error, merror').length,
    visible: frames.filter(visible).length,
  };
};

async function openPage(context, job) {
  const page = await context.newPage();
  const record = { url: job.url, failed: [], external: [], console_errors: [] };
  page.on('requestfailed', (req) => {
    if (!/^https?:/.test(req.url())) {
      record.failed.push(`${req.url()} (${req.failure() ? req.failure().errorText : 'failed'})`);
    }
  });
  page.on('console', (msg) => { if (msg.type() === 'error') { record.console_errors.push(msg.text()); } });
  page.on('pageerror', (err) => record.console_errors.push(String(err)));
  await page.goto(job.url, { waitUntil: 'load', timeout: WAIT_MS });
  return { page, record };
}

async function runDeck(context, job) {
  const { page, record } = await openPage(context, job);
  await page.waitForFunction(() => window.deckReady === true, null, { timeout: WAIT_MS });
  record.reveal_ready = await page.evaluate(() => !!window.Reveal && window.Reveal.isReady());
  record.slides = await page.evaluate(() => window.Reveal.getTotalSlides());
  record.math = await page.evaluate(MATH_COUNTS);
  record.text = await page.evaluate(() => document.body.innerText);
  if (job.screenshot) {
    // Go to the first slide with typeset math, show all its fragments, and photograph it.
    const where = await page.evaluate(() => {
      const slides = window.Reveal.getSlides();
      for (let i = 0; i < slides.length; i++) {
        if (slides[i].querySelector('[id^="MathJax-Element-"][id$="-Frame"]')) {
          const idx = window.Reveal.getIndices(slides[i]);
          window.Reveal.slide(idx.h, idx.v, 999);
          return { index: i + 1, h: idx.h, v: idx.v || 0 };
        }
      }
      return null;
    });
    await page.waitForTimeout(1200);   // the slide transition
    await withTimeout(page.evaluate(MATH_DONE), 'MathJax to finish');
    record.screenshot_slide = where;
    await page.screenshot({ path: job.screenshot });
  }
  await page.close();
  return record;
}

async function runPrint(context, job) {
  const { page, record } = await openPage(context, job);
  await page.waitForFunction(() => window.deckReady === true, null, { timeout: WAIT_MS });
  record.reveal_ready = await page.evaluate(() => !!window.Reveal && window.Reveal.isReady());
  record.report = await page.evaluate(() => window.deckReport);
  record.math = await page.evaluate(MATH_COUNTS);
  await page.emulateMedia({ media: 'print' });
  await page.pdf({ path: job.pdf, preferCSSPageSize: true, printBackground: true });
  await page.close();
  return record;
}

async function runPage(context, job) {
  const { page, record } = await openPage(context, job);
  await withTimeout(page.evaluate(MATH_DONE), 'MathJax to finish');
  record.math = await page.evaluate(MATH_COUNTS);
  record.text = await page.evaluate(() => document.body.innerText);
  record.links = await page.evaluate(() => Array.from(document.querySelectorAll('a[href]')).map((a) => a.getAttribute('href')));
  if (job.screenshot) { await page.screenshot({ path: job.screenshot, fullPage: false }); }
  await page.close();
  return record;
}

async function main() {
  const spec = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const browser = await chromium.launch({
    executablePath: spec.chromium,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  const results = [];
  try {
    for (const job of spec.jobs) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
      const external = [];
      await context.route(/^https?:\/\//, (route) => { external.push(route.request().url()); route.abort(); });
      let record;
      log(`${job.kind} ${job.url}`);
      try {
        const run = { deck: runDeck, print: runPrint, page: runPage }[job.kind];
        record = await run(context, job);
      } catch (err) {
        record = { ...(record || {}), url: job.url, error: String(err && err.stack || err) };
      }
      record.kind = job.kind;
      record.external = external;
      results.push(record);
      await context.close();
    }
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(results));
}

main().catch((err) => { console.error(err); process.exit(1); });
