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
  // Speaker notes (aside.notes) are not on the slide: their formulas are left out.
  const root = document.querySelector('.reveal .slides') || document;
  const onSlide = (el) => !el.closest('aside.notes');
  const all = (selector) => Array.from(root.querySelectorAll(selector)).filter(onSlide);
  const frames = all('[id^="MathJax-Element-"][id$="-Frame"]');
  return {
    found: all('script[type^="math/tex"]').length,
    typeset: frames.length,
    errors: all('.mjx-merror, .mjx-noError, .MathJax_Error, merror').length,
    visible: frames.filter(visible).length,
  };
};

// Per slide, as the audience sees it: the words on it (speaker notes and the hidden aria copy left out;
// a typeset formula counts as one word), its code lines, and whether it fits reveal's page
// (each slide is shown in turn, fragments included, and measured against the configured size).
const SLIDE_STATS = async () => {
  const config = window.Reveal.getConfig();
  const slides = window.Reveal.getSlides();
  const stats = [];
  for (let i = 0; i < slides.length; i++) {
    const section = slides[i];
    const idx = window.Reveal.getIndices(section);
    window.Reveal.slide(idx.h, idx.v, 999);
    await new Promise((r) => setTimeout(r, 30));
    const clone = section.cloneNode(true);
    clone.querySelectorAll('aside.notes').forEach((e) => e.remove());
    // One word per formula (its TeX source stays in a script tag whatever MathJax is doing to its output).
    const formulas = clone.querySelectorAll('script[type^="math/tex"]').length;
    clone.querySelectorAll('script, style, .MathJax_Preview, .MJX_Assistive_MathML, [id^="MathJax-Element-"], .mjx-chtml, .MathJax_CHTML, .MJXc-display')
      .forEach((e) => e.remove());
    const words = formulas + (clone.textContent.replace(/¶/g, ' ').match(/[^\s]+/g) || []).filter((w) => /[\p{L}\p{N}]/u.test(w)).length;
    const title = (section.querySelector('h1, h2, h3') || section).innerText.replace(/¶/g, '').trim().slice(0, 80);
    const codeLines = Array.from(section.querySelectorAll('pre')).filter((p) => !p.closest('aside.notes'))
      .map((p) => p.innerText.replace(/\n$/, '').split('\n').length);
    let bottom = 0, right = 0;
    const top = section.getBoundingClientRect().top, left = section.getBoundingClientRect().left;
    const scale = window.Reveal.getScale ? window.Reveal.getScale() : 1;
    section.querySelectorAll('*').forEach((el) => {
      if (el.closest('aside.notes')) { return; }
      const r = el.getBoundingClientRect();
      if (r.height > 0 && r.width > 0) { bottom = Math.max(bottom, r.bottom); right = Math.max(right, r.right); }
    });
    const wide = Array.from(section.querySelectorAll('pre, .jp-OutputArea-output, table, .MathJax_Display, .MJXc-display'))
      .some((el) => !el.closest('aside.notes') && el.scrollWidth > el.clientWidth + 2);
    const images = Array.from(section.querySelectorAll('img, svg')).filter((e) => !e.closest('aside.notes') && !e.closest('.MathJax_CHTML, .mjx-chtml')).length;
    const exercise = !!section.querySelector('p.points');
    stats.push({ index: i, title, words, formulas, images, exercise, notes_words: ((section.querySelector('aside.notes') || {}).textContent || '').split(/\s+/).filter(Boolean).length,
                 code_lines: codeLines, height: Math.round((Math.max(bottom - top, section.scrollHeight * scale)) / scale),
                 width: Math.round((right - left) / scale), page_height: config.height, page_width: config.width,
                 scrolls: wide || section.scrollHeight > config.height + 1 });
  }
  window.Reveal.slide(0, 0, 0);
  return stats;
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
  record.per_slide = await withTimeout(page.evaluate(SLIDE_STATS), 'measuring the slides');
  if (job.screenshots) {
    // One picture of each slide listed (index into Reveal.getSlides()), fragments shown.
    record.screenshots = [];
    for (const shot of job.screenshots) {
      await page.evaluate((i) => {
        const idx = window.Reveal.getIndices(window.Reveal.getSlides()[i]);
        window.Reveal.slide(idx.h, idx.v, 999);
      }, shot.slide);
      await page.waitForTimeout(900);
      await withTimeout(page.evaluate(MATH_DONE), 'MathJax to finish');
      await page.screenshot({ path: shot.path });
      record.screenshots.push(shot.path);
    }
  }
  if (job.keys) {
    // What a lecturer presses: arrow right moves on, Escape opens the overview, s opens the speaker notes.
    record.keys = {};
    await page.evaluate(() => window.Reveal.slide(0, 0, 0));
    await page.waitForTimeout(300);
    await page.keyboard.press('ArrowRight');
    await page.waitForTimeout(700);
    record.keys.after_right = await page.evaluate(() => window.Reveal.getIndices());
    await page.keyboard.press('ArrowLeft');
    await page.waitForTimeout(700);
    record.keys.after_left = await page.evaluate(() => window.Reveal.getIndices());
    await page.keyboard.press('Escape');
    await page.waitForTimeout(700);
    record.keys.overview = await page.evaluate(() => window.Reveal.isOverview());
    await page.keyboard.press('Escape');
    await page.waitForTimeout(500);
    const popup = page.context().waitForEvent('page', { timeout: 15000 }).catch(() => null);
    await page.keyboard.press('s');
    const notes = await popup;
    record.keys.notes_window = !!notes;
    if (notes) {
      await notes.waitForLoadState('load').catch(() => null);
      // The speaker view fills its notes once it has talked to the deck (postMessage): wait for them.
      await notes.waitForFunction(() => {
        const el = document.querySelector('.speaker-controls-notes .value');
        return el && el.innerText.trim().length > 0;
      }, null, { timeout: 20000 }).catch(() => null);
      record.keys.notes_text = await notes.evaluate(() => {
        const el = document.querySelector('.speaker-controls-notes .value') || document.body;
        return el.innerText;
      }).catch((e) => `error: ${e}`);
      await notes.close();
    }
  }
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

// Sphinx's search page, as a reader uses it: type the words into the sidebar's search box on `url` (a page
// of the site), submit, and wait until the search has finished; returns the result links and their text.
async function runSearch(context, job) {
  const { page, record } = await openPage(context, job);
  await withTimeout(page.evaluate(MATH_DONE), 'MathJax to finish');   // leaving earlier aborts its font loads
  const box = page.locator('input[name="q"]').first();
  await box.fill(job.query);
  await Promise.all([page.waitForNavigation({ waitUntil: 'load', timeout: WAIT_MS }), box.press('Enter')]);
  try {
    // Sphinx's searchtools.js: the summary paragraph appears when the search has finished.
    await page.waitForFunction(() => typeof Search !== 'undefined' && Search._pulse_status === -1
      && document.querySelector('#search-results p.search-summary'), null, { timeout: WAIT_MS });
  } catch (err) {
    record.text = await page.evaluate(() => document.body.innerText);
    if (job.screenshot) { await page.screenshot({ path: job.screenshot, fullPage: false }); }
    throw new Error(`${err}\npage text: ${record.text.slice(0, 1500)}\nconsole: ${record.console_errors.join(' | ')}`);
  }
  record.search_url = page.url();
  record.results = await page.evaluate(() => Array.from(document.querySelectorAll('#search-results ul.search li')).map((li) => ({
    href: (li.querySelector('a') || {}).href || '', text: li.innerText.slice(0, 400) })));
  record.text = await page.evaluate(() => document.body.innerText);
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
        const run = { deck: runDeck, print: runPrint, page: runPage, search: runSearch }[job.kind];
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
