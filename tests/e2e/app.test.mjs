// End-to-end browser tests (Playwright driving Debian's chromium): the page reproduces the
// golden outputs in both WASM flavours, makes no network request beyond its own assets, shows
// clear errors for bad files, and the <calibra-eval> and <calibra-sweep> elements work without
// COOP/COEP.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { createServer } from '../../scripts/serve.mjs';
import { compareReport, readParquet } from './compare.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const shared = process.env.CALIBRA_SHARED || path.resolve(repo, '../shared');
const golden = (name, file) => path.join(shared, 'golden', name, file);
const artifacts = path.join(repo, 'target', 'e2e');
fs.mkdirSync(artifacts, { recursive: true });

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];

let context;
const servers = {};

function listen(isolate) {
  return new Promise((resolve) => {
    const s = createServer({ root: path.join(repo, 'www'), isolate });
    s.listen(0, '127.0.0.1', () => resolve({ server: s, origin: `http://127.0.0.1:${s.address().port}` }));
  });
}

before(async () => {
  servers.threaded = await listen(true);
  servers.fallback = await listen(false);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'calibra-e2e-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, chromiumSandbox: false, args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 900 },
  });
});

after(async () => {
  await context?.close();
  for (const s of Object.values(servers)) s.server.close();
});

/** Opens a page, recording every request with the time it was made relative to `load`. */
async function open(origin, pathname = '/') {
  const page = await context.newPage();
  const requests = [];
  let loaded = false;
  page.on('request', (r) => requests.push({ url: r.url(), method: r.method(), afterLoad: loaded }));
  page.on('load', () => { loaded = true; });
  page.on('pageerror', (e) => console.error('page error:', e.message));
  await page.goto(origin + pathname);
  return { page, requests };
}

async function waitForState(page) {
  await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.state), null, { timeout: 180_000 });
  return page.evaluate(() => document.body.dataset.state);
}

/** Clicks the download link of output `name`; the path of the file the page saved. */
async function downloaded(page, name) {
  const download = page.waitForEvent('download');
  await page.click(`#downloads >> text=${name}`);
  return (await download).path();
}

function assertPrivate(requests, origin) {
  const wwwFiles = new Set();
  const walk = (dir, prefix) => { for (const e of fs.readdirSync(dir, { withFileTypes: true })) { if (e.isDirectory()) walk(path.join(dir, e.name), `${prefix}${e.name}/`); else wwwFiles.add(`/${prefix}${e.name}`); } };
  walk(path.join(repo, 'www'), '');
  for (const r of requests) {
    const u = new URL(r.url);
    if (u.protocol === 'blob:' || u.protocol === 'data:') continue;
    assert.equal(u.origin, origin, `request to another origin: ${r.url}`);
    assert.equal(r.method, 'GET', `non-GET request: ${r.method} ${r.url}`);
    if (r.afterLoad) assert.ok(wwwFiles.has(u.pathname === '/' ? '/index.html' : u.pathname), `request after load that is not one of the page's assets: ${r.url}`);
  }
}

for (const flavour of ['threaded', 'fallback']) {
  test(`golden_single in the ${flavour} page equals the reference, with no network traffic`, async () => {
    const { origin } = servers[flavour];
    const { page, requests } = await open(origin);
    await page.waitForSelector('#run:not([disabled])', { timeout: 120_000 });
    const engine = await page.evaluate(() => document.body.dataset.engine);
    assert.equal(engine, flavour === 'threaded' ? 'threaded' : 'single-thread');
    const before = requests.length;
    await page.setInputFiles('input[name=cells]', golden('golden_single', 'data.parquet'));
    await page.setInputFiles('input[name=predictions]', golden('golden_single', 'predictions.parquet'));
    await page.click('#run');
    const state = await waitForState(page);
    assert.equal(state, 'done', await page.textContent('#error'));
    assert.equal(requests.length, before, `requests during the evaluation: ${requests.slice(before).map((r) => r.url).join(', ')}`);
    const report = await page.evaluate(() => window.calibraReport);
    // Per-gene tables are not in the report: they are the page's downloads, read back here.
    for (const name of report.outputs.filter(([, perGene]) => perGene).map(([n]) => n)) {
      report[name] = await readParquet(await downloaded(page, name));
    }
    const problems = await compareReport(report, path.join(shared, 'golden', 'golden_single', 'expected'));
    assert.deepEqual(problems, []);
    // The per-perturbation scatter: click the first perturbation of the table.
    await page.click('#perts tbody tr');
    await page.waitForSelector('#scatter svg');
    await page.screenshot({ path: path.join(artifacts, `results-${flavour}.png`), fullPage: true });
    assertPrivate(requests, origin);
    await page.close();
  });
}

test('bad files show the core message and the page stays usable', async () => {
  const { origin } = servers.threaded;
  const { page } = await open(origin);
  await page.waitForSelector('#run:not([disabled])', { timeout: 120_000 });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'calibra-bad-'));
  const notParquet = path.join(tmp, 'notes.parquet');
  fs.writeFileSync(notParquet, 'perturbation,G1\ncontrol,1\n');
  const truncated = path.join(tmp, 'cut.parquet');
  const bytes = fs.readFileSync(golden('golden_small', 'data.parquet'));
  fs.writeFileSync(truncated, bytes.subarray(0, bytes.length >> 1));
  const cases = [
    [notParquet, 'not a Parquet or Arrow IPC file'],
    [truncated, 'truncated'],
    [path.join(shared, 'data', 'papalexi2021_counts.parquet'), 'raw counts'],
    [golden('golden_small', 'predictions.parquet'), 'pass this file as predictions'],
  ];
  for (const [file, expected] of cases) {
    await page.setInputFiles('input[name=cells]', file);
    await page.setInputFiles('input[name=predictions]', []);
    await page.click('#run');
    assert.equal(await waitForState(page), 'error');
    const msg = await page.textContent('#error');
    assert.ok(msg.includes(expected) && msg.includes(path.basename(file)), `${path.basename(file)}: ${msg}`);
  }
  // Still usable: the example runs after the errors.
  await page.click('#example');
  assert.equal(await waitForState(page), 'done');
  await page.close();
});

test('the <calibra-eval> element evaluates the example on a host without COOP/COEP', async () => {
  const { origin } = servers.fallback;
  const { page, requests } = await open(origin, '/embed.html');
  await page.waitForFunction(() => ['done', 'error'].includes(document.querySelector('calibra-eval')?.getAttribute('state')), null, { timeout: 180_000 });
  const state = await page.evaluate(() => document.querySelector('calibra-eval').getAttribute('state'));
  assert.equal(state, 'done');
  const nModels = await page.evaluate(() => new Set(document.querySelector('calibra-eval').report['stats.csv'].map((r) => r.model)).size);
  assert.ok(nModels >= 6);
  await page.screenshot({ path: path.join(artifacts, 'embed-fallback.png'), fullPage: true });
  assertPrivate(requests, origin);
  await page.close();
});

test('why.html: a slider move re-simulates and redraws the <calibra-sweep> plots, with no network request, on a host without COOP/COEP', async () => {
  const { origin } = servers.fallback;
  const { page, requests } = await open(origin, '/why.html');
  const sweepState = () => page.evaluate(() => {
    const s = document.querySelector('calibra-sweep');
    return {
      state: s.dataset.state, point: s.dataset.point, seconds: Number(s.dataset.seconds), timing: s.timing,
      evaluated: s.pointsEvaluated, metrics: s.result?.metrics.length, error: s.shadowRoot.querySelector('.error')?.textContent,
      svg: [...s.shadowRoot.querySelectorAll('.plots svg')].map((e) => e.outerHTML).join(''),
      // Where the mean baseline's and the genuine predictor's dots and the DRF bars are drawn.
      dots: [...s.shadowRoot.querySelectorAll('.compare svg circle')].map((c) => c.getAttribute('cx')).join(','),
      bars: [...s.shadowRoot.querySelectorAll('.drf svg rect')].map((r) => `${r.getAttribute('x')}:${r.getAttribute('width')}`).join(','),
    };
  });
  const settled = (previous) => page.waitForFunction((p) => {
    const s = document.querySelector('calibra-sweep');
    return s.dataset.state === 'error' || (s.dataset.state === 'done' && s.dataset.point !== p);
  }, previous, { timeout: 120_000 });
  /** Sets slider `name` to `value` as a user's drag would (input, then change). */
  const slide = (name, value) => page.evaluate(([n, v]) => {
    const input = document.querySelector('calibra-sweep').shadowRoot.querySelector(`input[name=${n}]`);
    input.value = v;
    input.dispatchEvent(new Event('input', { bubbles: true }));
    input.dispatchEvent(new Event('change', { bubbles: true }));
  }, [name, value]);
  await settled(undefined);
  const first = await sweepState();
  assert.equal(first.state, 'done', first.error);
  assert.equal(first.metrics, 13);
  assert.match(first.point, /^control_bias=0.5 deg_fraction=0.3 effect_size=1 cells_per_perturbation=40$/);
  const loaded = requests.length;
  const seconds = [first.seconds];
  const roundTrips = [first.timing.roundTrip];

  // The control bias up to 1: a new point, drawn differently.
  await slide('control-bias', '1');
  await settled(first.point);
  const second = await sweepState();
  assert.equal(second.state, 'done', second.error);
  assert.match(second.point, /^control_bias=1 deg_fraction=0.3 /);
  assert.notEqual(second.svg, first.svg);
  assert.ok(second.dots !== first.dots || second.bars !== first.bars, 'the dots or the DRF bars moved');
  seconds.push(second.seconds);
  roundTrips.push(second.timing.roundTrip);

  // A burst of moves: the point in flight finishes, the waiting ones are superseded by the last.
  const burst = second.evaluated;
  await page.evaluate(() => {
    const input = document.querySelector('calibra-sweep').shadowRoot.querySelector('input[name=deg-fraction]');
    for (const v of ['7', '6', '5', '4', '0']) { input.value = v; input.dispatchEvent(new Event('input', { bubbles: true })); }
  });
  await page.waitForFunction(() => {
    const s = document.querySelector('calibra-sweep');
    return s.dataset.state === 'error' || (s.dataset.state === 'done' && /deg_fraction=0.05 /.test(s.dataset.point));
  }, null, { timeout: 120_000 });
  const third = await sweepState();
  assert.equal(third.state, 'done', third.error);
  assert.equal(third.evaluated - burst, 2, 'five moves: the first point and the last, nothing stale in between');
  assert.notEqual(third.svg, second.svg);
  seconds.push(third.seconds);

  assert.equal(requests.length, loaded, `requests after the first drawing: ${requests.slice(loaded).map((r) => r.url).join(', ')}`);
  assertPrivate(requests, origin);
  assert.equal(await page.evaluate(() => window.crossOriginIsolated), false);
  console.log(`sweep point in the single-thread worker: ${seconds.map((s) => s.toFixed(3)).join(', ')} s (page round trip ${roundTrips.map((s) => s.toFixed(3)).join(', ')} s)`);
  await page.screenshot({ path: path.join(artifacts, 'why-sweep.png'), fullPage: true });
  await page.close();
});

test('Cancel stops a running evaluation and leaves the page usable; the options form comes from calibra', async () => {
  const { origin } = servers.threaded;
  const { page } = await open(origin);
  await page.waitForSelector('#run:not([disabled])', { timeout: 120_000 });
  // The form is built from the options table the worker sent (no copy in the page).
  assert.equal(await page.inputValue('#opt-seed'), '42');
  assert.equal(await page.inputValue('#opt-preset'), 'default');
  // Start and cancel in the same task: the worker cannot have answered before the cancel.
  await page.evaluate(() => { document.querySelector('#example').click(); document.querySelector('#cancel').click(); });
  await page.waitForFunction(() => document.body.dataset.state === 'cancelled', null, { timeout: 30_000 });
  assert.match(await page.textContent('#error'), /Cancelled/);
  // A fresh worker comes up; the example then runs to the end.
  await page.waitForSelector('#run:not([disabled])', { timeout: 120_000 });
  await page.click('#example');
  assert.equal(await waitForState(page), 'done');
  const report = await page.evaluate(() => window.calibraReport);
  assert.equal(report.metrics.length, 13);
  assert.ok(report.judgements.verdicts.length >= 1);
  await page.close();
});

test('a wide screen (2,000 perturbations × 4,000 genes) finishes in the page, and its per-gene table downloads in parts', async () => {
  // Made by the CLI's simulator: quick to generate, yet its per-gene tables have 8 M rows each.
  // Built whole by the report (until 2026-12-02) they took the WASM memory to 1.9 GiB after the
  // report and 3.0–3.6 GiB once downloaded, near wasm32's 4 GiB; in parts, 0.8–0.9 GiB.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'calibra-wide-'));
  const cli = process.env.CALIBRA_CLI || path.join(repo, 'target', 'debug', 'calibra');
  execFileSync(cli, ['simulate', '--preset', 'wide', '--out', dir], { stdio: 'inherit' });
  const { origin } = servers.threaded;
  const { page } = await open(origin);
  await page.waitForSelector('#run:not([disabled])', { timeout: 120_000 });
  await page.setInputFiles('input[name=cells]', path.join(dir, 'data.parquet'));
  await page.setInputFiles('input[name=predictions]', path.join(dir, 'predictions.parquet'));
  await page.click('#run');
  assert.equal(await waitForState(page), 'done', await page.textContent('#error'));
  const report = await page.evaluate(() => window.calibraReport);
  assert.equal(report['manifest.json'].contexts[0].n_genes, 4000);
  assert.ok(!('deg_gt.parquet' in report), 'per-gene tables are downloads only');
  // The download is assembled in the worker from one part per row group.
  const bytes = fs.readFileSync(await downloaded(page, 'deg_gt.parquet'));
  assert.equal(bytes.subarray(0, 4).toString(), 'PAR1');
  assert.equal(bytes.subarray(bytes.length - 4).toString(), 'PAR1');
  await page.screenshot({ path: path.join(artifacts, 'wide-threaded.png'), fullPage: true });
  await page.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('an AnnData h5ad with four contexts: read as is, a context selector, the pooled summary, and why nothing can be concluded', async () => {
  const { origin } = servers.threaded;
  const { page, requests } = await open(origin);
  await page.waitForSelector('#run:not([disabled])', { timeout: 120_000 });
  await page.setInputFiles('input[name=cells]', path.join(shared, 'data', 'perturbench_devel_norman19_mcfaline23.h5ad'));
  await page.setInputFiles('input[name=predictions]', []);
  // The column mapping: what calibra found, and a role picker that sets the options.
  await page.waitForFunction(() => document.body.dataset.mapping === 'shown');
  const mapping = await page.textContent('#mapping');
  assert.match(mapping, /H5ad · sparse-csr · 5,961 cells · 500 genes/);
  assert.match(mapping, /condition/);
  // cell_type is guessed as the context; `perturbation` (this file's other label) as the label.
  assert.equal(await page.inputValue('#mapping select[data-column="cell_type"]'), 'context');
  assert.equal(await page.inputValue('#mapping select[data-column="perturbation"]'), 'perturbation');
  await page.selectOption('#mapping select[data-column="condition"]', 'perturbation');
  await page.waitForFunction(() => document.querySelector('#mapping select[data-column="condition"]')?.value === 'perturbation');
  assert.equal(await page.inputValue('#opt-perturbation-column'), 'condition');
  await page.screenshot({ path: path.join(artifacts, 'h5ad-mapping.png'), fullPage: true });
  const before = requests.length;
  await page.click('#run');
  assert.equal(await waitForState(page), 'done', await page.textContent('#error'));
  assert.equal(requests.length, before, 'no request while evaluating');
  const contexts = await page.$$eval('#context option', (os) => os.map((o) => o.textContent));
  assert.deepEqual(contexts, ['A172', 'T98G', 'U87MG', 'k562']);
  assert.ok(await page.isVisible('#contexts'));
  // The pooled summary: each context and the mean over contexts.
  const pooledHead = await page.$$eval('#pooled th', (ths) => ths.map((t) => t.textContent));
  assert.ok(pooledHead.includes('mean over contexts') && pooledHead.includes('k562'), pooledHead.join(','));
  // No predictions and few perturbations per glioma line: the page says why in words.
  const notes = await page.textContent('#verdict');
  assert.match(notes, /No predictions were given/);
  assert.match(notes, /censored/);
  // Every view follows the chosen context.
  await page.selectOption('#context', { label: 'k562' });
  await page.waitForFunction(() => document.body.dataset.context === 'k562');
  const report = await page.evaluate(() => window.calibraReport);
  assert.equal(report['manifest.json'].inputs.cells_format, 'H5ad');
  assert.ok(report['perturbations.csv'].some((r) => r.perturbation.includes('+')), 'Norman combos in k562');
  // Ranking agreement across metrics: a table from calibra, drawn as a heatmap.
  assert.ok(report['ranking_agreement.csv'].length === report.metrics.length ** 2);
  await page.waitForSelector('#agreement svg');
  await page.screenshot({ path: path.join(artifacts, 'h5ad-contexts.png'), fullPage: true });
  assertPrivate(requests, origin);
  await page.close();
});

test('a split file picked beside the cells: the held-out context is tested, its baselines learn from the others, the rest say why nothing is evaluated', async () => {
  const { origin } = servers.threaded;
  const { page, requests } = await open(origin);
  await page.waitForSelector('#run:not([disabled])', { timeout: 120_000 });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'calibra-split-'));
  const perts = ['MAP2K3', 'MAP2K6', 'MAP3K21', 'MAP4K3', 'MAP4K5', 'MAPK1', 'PLK4', 'SGK1', 'TGFBR2'];
  const rows = ['perturbation,context,split,task'];
  for (const context of ['A172', 'T98G', 'U87MG']) {
    for (const p of perts) rows.push(`${p},${context},${context === 'A172' ? 'test' : 'train'},unseen-context`);
  }
  const split = path.join(dir, 'split.csv');
  fs.writeFileSync(split, rows.join('\n') + '\n');
  await page.setInputFiles('input[name=cells]', path.join(shared, 'data', 'mcfaline23_subset.parquet'));
  await page.setInputFiles('input[name=predictions]', []);
  await page.setInputFiles('input[name=split]', split);
  const before = requests.length;
  await page.click('#run');
  assert.equal(await waitForState(page), 'done', await page.textContent('#error'));
  assert.equal(requests.length, before, 'no request while evaluating');
  const report = await page.evaluate(() => window.calibraReport);
  assert.equal(report['manifest.json'].split.task, 'unseen-context');
  assert.deepEqual(report['manifest.json'].split.perturbations, { test: 9, train: 18 });
  assert.equal(await page.evaluate(() => document.body.dataset.context), 'A172');
  assert.ok(report['perturbations.csv'].filter((r) => r.fold === 0).length === 9);
  const notes = await page.textContent('#verdict');
  assert.match(notes, /no train perturbations of its own: its dataset_mean, interpolated_duplicate and linear baselines learn from the 18 train perturbation\(s\) of T98G, U87MG/);
  await page.screenshot({ path: path.join(artifacts, 'split-heldout.png'), fullPage: true });
  await page.selectOption('#context', { label: 'T98G' });
  await page.waitForFunction(() => document.body.dataset.context === 'T98G');
  assert.match(await page.textContent('#verdict'), /Nothing is evaluated here: no perturbation of this context is tested/);
  assertPrivate(requests, origin);
  await page.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('cell-level predictions in the page: a tab per family and space, the numbers of the CLI', async () => {
  // GGE's inputs for golden_single: two models of generated cells (noisy truth, mode collapse).
  const cells = golden('golden_single', 'data.parquet');
  const inputs = path.join(shared, 'golden', 'peers', 'A_golden_single', 'gge', 'inputs');
  const predictions = ['generated_noisy_truth.parquet', 'generated_collapsed.parquet'].map((f) => path.join(inputs, f));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'calibra-cells-'));
  const cli = process.env.CALIBRA_CLI || path.join(repo, 'target', 'debug', 'calibra');
  execFileSync(cli, ['evaluate', '--cells', cells, ...predictions.flatMap((p) => ['--predictions', p]),
    '--metrics', 'calibrated,distributional', '--light', '--out', path.join(dir, 'out')], { stdio: 'inherit' });
  const { origin } = servers.threaded;
  const { page, requests } = await open(origin);
  await page.waitForSelector('#run:not([disabled])', { timeout: 120_000 });
  await page.setInputFiles('input[name=cells]', cells);
  await page.setInputFiles('input[name=predictions]', predictions);
  await page.click('details:has(#options) > summary');
  await page.fill('#opt-metrics', 'calibrated,distributional');
  await page.screenshot({ path: path.join(artifacts, 'cell-level-options.png'), fullPage: true });
  const before = requests.length;
  await page.click('#run');
  assert.equal(await waitForState(page), 'done', await page.textContent('#error'));
  assert.equal(requests.length, before, 'no request while evaluating');
  const tabs = await page.$$eval('#family-tabs button', (bs) => bs.map((b) => b.textContent));
  assert.deepEqual(tabs, ['calibrated', 'distributional · raw', 'distributional · pca50', 'distributional · deg']);
  await page.click('#family-tabs button[data-group="distributional · pca50"]');
  await page.waitForFunction(() => document.querySelector('#models tbody th')?.textContent.endsWith('_pca50'));
  assert.match(await page.textContent('#family-note'), /Space pca50: 50 principal components/);
  const heat = await page.textContent('#drf');
  assert.match(heat, /drf_collapsed/);
  const report = await page.evaluate(() => window.calibraReport);
  const problems = await compareReport(report, path.join(dir, 'out'), ['metrics.csv', 'summary.csv', 'drf_summary.csv', 'stats.csv']);
  assert.deepEqual(problems, []);
  await page.screenshot({ path: path.join(artifacts, 'cell-level-pca50.png'), fullPage: true });
  assertPrivate(requests, origin);
  await page.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('cell-eval and cell-eval2 in the page: their own tabs and files, the VCC 2026 score, the numbers of the CLI', async () => {
  const cells = golden('golden_single', 'data.parquet');
  const predictions = golden('golden_single', 'predictions.parquet');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'calibra-celleval-'));
  const cli = process.env.CALIBRA_CLI || path.join(repo, 'target', 'debug', 'calibra');
  execFileSync(cli, ['evaluate', '--cells', cells, '--predictions', predictions,
    '--metrics', 'calibrated,celleval,celleval2', '--compat', 'celleval', '--light', '--out', path.join(dir, 'out')], { stdio: 'inherit' });
  const { origin } = servers.threaded;
  const { page, requests } = await open(origin);
  await page.waitForSelector('#run:not([disabled])', { timeout: 120_000 });
  await page.setInputFiles('input[name=cells]', cells);
  await page.setInputFiles('input[name=predictions]', predictions);
  await page.click('details:has(#options) > summary');
  await page.fill('#opt-metrics', 'calibrated,celleval,celleval2');
  await page.selectOption('#opt-compat', 'celleval');
  const before = requests.length;
  await page.click('#run');
  assert.equal(await waitForState(page), 'done', await page.textContent('#error'));
  assert.equal(requests.length, before, 'no request while evaluating');
  const tabs = await page.$$eval('#family-tabs button', (bs) => bs.map((b) => b.textContent));
  assert.deepEqual(tabs, ['calibrated', 'celleval', 'celleval2']);
  await page.click('#family-tabs button[data-group="celleval"]');
  await page.waitForFunction(() => document.querySelector('#models tbody th')?.textContent.startsWith('celleval_'));
  assert.match(await page.textContent('#family-note'), /cell-eval 0\.8\.1/);
  const report = await page.evaluate(() => window.calibraReport);
  const problems = await compareReport(report, path.join(dir, 'out'),
    ['metrics.csv', 'summary.csv', 'drf_summary.csv', 'stats.csv', 'celleval_results.csv',
      'celleval2_results.csv', 'celleval2_vcc2026_score.csv']);
  assert.deepEqual(problems, []);
  await page.screenshot({ path: path.join(artifacts, 'celleval-tab.png'), fullPage: true });
  await page.click('#family-tabs button[data-group="celleval2"]');
  await page.waitForFunction(() => document.querySelector('#models tbody th')?.textContent.startsWith('celleval2_'));
  assert.match(await page.textContent('#family-note'), /Your local VCC 2026 score, collapsed: -?\d\.\d{3}/);
  assert.match(await page.textContent('#family-note'), /cell-eval2 0\.20\.0/);
  await page.screenshot({ path: path.join(artifacts, 'celleval2-tab.png'), fullPage: true });
  assertPrivate(requests, origin);
  await page.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a sufficient-statistics table dropped as the cells: the numbers of the CLI on the cells, nothing uploaded', async () => {
  const cells = golden('golden_single', 'data.parquet');
  const predictions = golden('golden_single', 'predictions.parquet');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'calibra-stats-'));
  const cli = process.env.CALIBRA_CLI || path.join(repo, 'target', 'debug', 'calibra');
  const table = path.join(dir, 'stats.parquet');
  execFileSync(cli, ['stats', '-q', '--cells', cells, '--out', table], { stdio: 'inherit' });
  execFileSync(cli, ['evaluate', '-q', '--cells', cells, '--predictions', predictions, '--light', '--out', path.join(dir, 'out')], { stdio: 'inherit' });
  const { origin } = servers.threaded;
  const { page, requests } = await open(origin);
  await page.waitForSelector('#run:not([disabled])', { timeout: 120_000 });
  await page.setInputFiles('input[name=cells]', table);
  await page.setInputFiles('input[name=predictions]', predictions);
  await page.waitForFunction(() => document.body.dataset.mapping === 'shown');
  assert.match(await page.textContent('#mapping'), /Parquet · statistics · 300 genes/);
  assert.equal(await page.$$eval('#mapping select', (s) => s.length), 0, 'the key columns of a statistics table have fixed roles');
  const before = requests.length;
  await page.click('#run');
  assert.equal(await waitForState(page), 'done', await page.textContent('#error'));
  assert.equal(requests.length, before, 'no request while evaluating');
  const report = await page.evaluate(() => window.calibraReport);
  const problems = await compareReport(report, path.join(dir, 'out'), ['metrics.csv', 'summary.csv', 'drf_summary.csv', 'stats.csv']);
  assert.deepEqual(problems, []);
  await page.screenshot({ path: path.join(artifacts, 'stats-table.png'), fullPage: true });
  assertPrivate(requests, origin);
  await page.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
