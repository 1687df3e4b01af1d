// One class on the local JupyterHub (`python3 -m autograder hub`), driven in Debian's Chromium the way
// its people would use it (playwright-core, no browser download). Called by tests/test_hub.py:
//
//     NODE_PATH=build/web/node_modules node hub_browser.cjs spec.json  ->  JSON of what was seen, on stdout
//
// spec: {"chromium": path, "url": "http://127.0.0.1:PORT", "lesson": "02_vanilla_rnn", "shots": folder,
//        "phase": "submit" | "feedback", "instructor": {"name", "password"},
//        "students": [{"name", "password", "code": source of rnn_step_forward or null (hand in blank)}]}
//
// phase "submit":   the instructor releases the lesson in formgrader; each student logs in, opens the
//                   assignment list, fetches the lesson; a student with code opens the notebook, runs a cell,
//                   pastes the function, runs the cells up to its visible check, saves; then submits.
// phase "feedback": (after `hub grade`) the first student fetches the feedback and opens it; the instructor
//                   opens formgrader's gradebook.
// Every step saves a screenshot in `shots`; a failing step saves one too and reports where it stopped.
'use strict';
const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const STEP_MS = 120000;
const spec = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const result = { steps: [], seen: {} };

function log(message) { process.stderr.write(`[hub-browser] ${message}\n`); }

async function shot(page, name) {
  const file = path.join(spec.shots, `${name}.png`);
  await page.screenshot({ path: file, fullPage: false });
  result.steps.push(name);
  return file;
}

async function login(browser, user) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  await page.goto(`${spec.url}/hub/login`);
  await page.fill('#username_input', user.name);
  await page.fill('#password_input', user.password);
  await Promise.all([page.waitForURL(new RegExp(`/user/${user.name}/lab`), { timeout: STEP_MS }),
    page.click('#login_submit')]);
  await page.waitForSelector('#jp-main-dock-panel', { timeout: STEP_MS });
  await page.waitForSelector('.lm-MenuBar-itemLabel:text-is("Nbgrader")', { timeout: STEP_MS });
  return { context, page };
}

async function nbgraderMenu(page) {
  await page.click('.lm-MenuBar-itemLabel:text-is("Nbgrader")');
  const items = await page.$$eval('.lm-Menu-content .lm-Menu-itemLabel', (els) => els.map((e) => e.textContent.trim()));
  await page.keyboard.press('Escape');
  return items.filter((t) => t);
}

async function openAssignmentList(page) {
  await page.click('.lm-MenuBar-itemLabel:text-is("Nbgrader")');
  await page.click('.lm-Menu-itemLabel:text-is("Assignment List")');
  await page.waitForSelector('#released_assignments_list', { timeout: STEP_MS });
}

function row(list) {
  return `#${list} .list_item:has-text("${spec.lesson}")`;
}

async function instructorRelease(browser) {
  const { context, page } = await login(browser, spec.instructor);
  result.seen.instructor_menu = await nbgraderMenu(page);
  await page.goto(`${spec.url}/user/${spec.instructor.name}/formgrader/manage_assignments`);
  const line = page.locator('tr', { has: page.locator(`td.name:has-text("${spec.lesson}")`) });
  await line.waitFor({ timeout: STEP_MS });
  await line.locator('td.release a').click();
  await page.waitForSelector('#success-modal, #error-modal', { timeout: STEP_MS });
  result.seen.release_modal = await page.$eval('#success-modal, #error-modal', (e) => e.innerText);
  await shot(page, '1-instructor-released-lesson');
  await page.click('#success-modal button, #error-modal button').catch(() => {});
  await page.waitForTimeout(500);
  result.seen.release_status = (await line.locator('td.status').innerText()).trim();
  await context.close();
}

async function pasteInto(page, cell, code) {
  const editor = cell.locator('.cm-content');
  await editor.click();
  await page.keyboard.press('Control+A');
  await editor.evaluate((el, text) => {
    const data = new DataTransfer();
    data.setData('text/plain', text);
    el.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
  }, code);
}

async function studentWork(page, student, index) {
  await page.goto(`${spec.url}/user/${student.name}/lab/tree/${spec.lesson}/${spec.lesson}.ipynb`);
  // every cell rendered (the test turns JupyterLab's windowed notebook off), and the kernel idle
  await page.waitForFunction(() => document.querySelectorAll('.jp-Notebook .jp-Cell').length > 20, null,
    { timeout: STEP_MS });
  await page.waitForSelector('.jp-StatusBar-TextItem:has-text("| Idle")', { timeout: STEP_MS });
  await page.waitForTimeout(2000);
  const cells = page.locator('.jp-Notebook .jp-Cell');
  const count = await cells.count();
  // "runs a cell": the lesson's first code cell (its imports)
  let first = -1, target = -1, check = -1;
  for (let i = 0; i < count; i += 1) {
    const cell = cells.nth(i);
    const isCode = await cell.evaluate((e) => e.classList.contains('jp-CodeCell'));
    if (!isCode) { continue; }
    const text = await cell.locator('.cm-content').innerText();
    if (first < 0) { first = i; }
    if (target < 0 && text.includes('def rnn_step_forward')) { target = i; continue; }
    if (target >= 0 && check < 0) { check = i; break; }
  }
  result.seen[`${student.name}_cells`] = { count, first, target, check };
  const ran = (i) => page.waitForFunction((k) => {
    const prompt = document.querySelectorAll('.jp-Notebook .jp-Cell')[k].querySelector('.jp-InputPrompt');
    return prompt && /\[[\d*]+\]/.test(prompt.textContent);
  }, i, { timeout: 20000 });
  for (let attempt = 0; ; attempt += 1) {   // a key pressed while the kernel still connects can be lost
    await cells.nth(first).locator('.jp-InputPrompt').click();
    await page.keyboard.press('Shift+Enter');
    try { await ran(first); break; } catch (error) { if (attempt >= 3) { throw error; } }
  }
  await page.waitForFunction((i) => {
    const prompt = document.querySelectorAll('.jp-Notebook .jp-Cell')[i].querySelector('.jp-InputPrompt');
    return prompt && /\[\d+\]/.test(prompt.textContent);
  }, first, { timeout: STEP_MS });
  result.seen[`${student.name}_first_cell_prompt`] = (await cells.nth(first).locator('.jp-InputPrompt').innerText()).trim();
  await shot(page, `${index}a-${student.name}-ran-first-cell`);
  // write the function, then run everything up to its visible check
  await pasteInto(page, cells.nth(target), student.code);
  result.seen[`${student.name}_pasted`] = await cells.nth(target).locator('.cm-content').innerText();
  await page.keyboard.press('Escape');
  await cells.nth(check).locator('.jp-InputPrompt').click();
  await page.click('.lm-MenuBar-itemLabel:text-is("Run")');
  await page.click('.lm-Menu-itemLabel:text-is("Run All Above Selected Cell")');
  await cells.nth(check).locator('.jp-InputPrompt').click();
  await page.keyboard.press('Shift+Enter');
  const output = cells.nth(check).locator('.jp-OutputArea-output');
  await output.first().waitFor({ timeout: STEP_MS * 2 });
  await page.waitForFunction((i) => {
    const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[i];
    const prompt = cell.querySelector('.jp-InputPrompt');
    return prompt && /\[\d+\]/.test(prompt.textContent);
  }, check, { timeout: STEP_MS * 2 });
  result.seen[`${student.name}_check_output`] = await cells.nth(check).locator('.jp-OutputArea').innerText();
  await cells.nth(check).scrollIntoViewIfNeeded();
  await shot(page, `${index}b-${student.name}-visible-check`);
  await page.keyboard.press('Control+S');
  await page.waitForTimeout(1500);
}

async function studentSubmit(browser, student, index) {
  const { context, page } = await login(browser, student);
  result.seen[`${student.name}_menu`] = await nbgraderMenu(page);
  await openAssignmentList(page);
  await page.waitForSelector(`${row('released_assignments_list')} button`, { timeout: STEP_MS });
  await page.click(`${row('released_assignments_list')} button`);
  await page.waitForSelector(`${row('fetched_assignments_list')} button:text-is("Submit")`, { timeout: STEP_MS });
  await shot(page, `${index}-${student.name}-fetched`);
  if (student.code) {
    await studentWork(page, student, index);
    await page.goto(`${spec.url}/user/${student.name}/lab`);
    await page.waitForSelector('.lm-MenuBar-itemLabel:text-is("Nbgrader")', { timeout: STEP_MS });
    await openAssignmentList(page);
  }
  await page.click(`${row('fetched_assignments_list')} button:text-is("Submit")`);
  await page.waitForSelector(`${row('submitted_assignments_list')}`, { timeout: STEP_MS });
  result.seen[`${student.name}_submitted`] = await page.locator(row('submitted_assignments_list')).first().innerText();
  await shot(page, `${index}c-${student.name}-submitted`);
  await context.close();
}

async function studentFeedback(browser, student) {
  const { context, page } = await login(browser, student);
  await openAssignmentList(page);
  const fetch = `${row('submitted_assignments_list')} button:text-is("Fetch Feedback")`;
  await page.waitForSelector(fetch, { timeout: STEP_MS });
  await page.click(fetch);
  await page.waitForSelector(`${row('submitted_assignments_list')} a:has-text("view feedback")`, { timeout: STEP_MS });
  await shot(page, '6-student-fetched-feedback');
  // the feedback folder is named after the submission's time stamp, shown in the row
  const rowText = await page.locator(row('submitted_assignments_list')).first().innerText();
  const stamp = rowText.match(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? UTC/)[0];
  await page.click(`${row('submitted_assignments_list')} a:has-text("view feedback")`);
  await page.waitForSelector(`.jp-DirListing-item:has-text("${spec.lesson}.html")`, { timeout: STEP_MS });
  result.seen.feedback_folder = await page.locator('.jp-BreadCrumbs').innerText();
  await shot(page, '6b-student-feedback-folder');
  await page.goto(`${spec.url}/user/${student.name}/files/${spec.lesson}/feedback/${encodeURIComponent(stamp)}/${spec.lesson}.html`);
  result.seen.feedback_text = await page.evaluate(() => document.body.innerText);
  await shot(page, '7-student-reads-feedback');
  await context.close();
}

async function instructorGradebook(browser) {
  const { context, page } = await login(browser, spec.instructor);
  await page.goto(`${spec.url}/user/${spec.instructor.name}/formgrader/gradebook/${spec.lesson}/${spec.lesson}`);
  await page.waitForSelector('table tbody tr', { timeout: STEP_MS });
  await page.waitForTimeout(1000);
  result.seen.gradebook_text = await page.evaluate(() => document.body.innerText);
  await shot(page, '8-instructor-gradebook');
  await context.close();
}

(async () => {
  const browser = await chromium.launch({ executablePath: spec.chromium, args: ['--no-sandbox'] });
  let current = null;
  try {
    if (spec.phase === 'submit') {
      current = 'instructor releases';
      await instructorRelease(browser);
      for (const [i, student] of spec.students.entries()) {
        current = `${student.name} fetches and submits`;
        await studentSubmit(browser, student, i + 2);
      }
    } else {
      current = 'student fetches feedback';
      await studentFeedback(browser, spec.students[0]);
      current = 'instructor gradebook';
      await instructorGradebook(browser);
    }
  } catch (error) {
    result.error = `${current}: ${error.message.split('\n').slice(0, 6).join(' ')}`;
    for (const context of browser.contexts()) {
      for (const [n, page] of context.pages().entries()) {
        await page.screenshot({ path: path.join(spec.shots, `failed-${n}.png`) }).catch(() => {});
      }
    }
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(result));
})();
