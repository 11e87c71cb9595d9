// Times the page on real files: threaded vs single-thread WebAssembly in headless Chromium, and
// the native CLI on the same files, in one run (ratios, not absolute times: machines are noisy).
//
//   make web && cargo build --release
//   node benches/web.mjs bench-cache/perf_medium/data.parquet bench-cache/perf_medium/predictions.parquet [--runs 3]
//
// Reports per flavour the median evaluation time (as the page measures it, files → report), the
// WASM memory after the run (it only grows, so it is the WASM heap's peak), and the peak RSS of
// all Chromium processes together; for the CLI the wall time and peak RSS (/usr/bin/time -v).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { createServer } from '../scripts/serve.mjs';
import { compareReport } from '../tests/e2e/compare.mjs';

/** The tables the page shows that are compared with the native CLI's files of the same run. */
const COMPARED = ['metrics.csv', 'summary.csv', 'drf.csv', 'drf_summary.csv', 'stats.csv', 'perturbations.csv'];

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const valueOf = (flag) => { const at = args.indexOf(flag); return at >= 0 ? args[at + 1] : undefined; };
const runs = Number(valueOf('--runs') ?? 1);
// --screenshots DIR: a full-page screenshot of each flavour's finished page. Every page's
// report is compared with the native CLI's outputs (≤1e-9 relative): a faster wrong page is no
// result.
const screenshots = valueOf('--screenshots');
const files = args.filter((a, i) => !a.startsWith('--') && !['--runs', '--screenshots'].includes(args[i - 1]));
if (files.length < 1) {
  console.error('usage: node benches/web.mjs CELLS [PREDICTIONS…] [--runs N] [--screenshots DIR]');
  process.exit(2);
}
const [cells, ...predictions] = files.map((f) => path.resolve(f));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mib = (b) => `${(b / 2 ** 20).toFixed(0)} MiB`;

/** Sum of the RSS of every process whose command line names the browser profile. */
function chromiumRss(profile) {
  let total = 0;
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (!fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(profile)) continue;
      const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
      if (m) total += Number(m[1]) * 1024;
    } catch { /* the process ended */ }
  }
  return total;
}

async function timePage(isolate) {
  const server = createServer({ root: path.join(repo, 'www'), isolate });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${server.address().port}`;
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'calibra-bench-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, chromiumSandbox: false,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  const result = { seconds: [], wasm: 0, rss: 0, threads: 0, engine: '' };
  try {
    for (let i = 0; i < runs; i++) {
      const page = await context.newPage();
      await page.goto(origin);
      await page.waitForSelector('#run:not([disabled])', { timeout: 120_000 });
      await page.setInputFiles('input[name=cells]', cells);
      await page.setInputFiles('input[name=predictions]', predictions);
      const sampler = setInterval(() => { result.rss = Math.max(result.rss, chromiumRss(profile)); }, 100);
      await page.click('#run');
      await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.state), null, { timeout: 3_600_000 });
      clearInterval(sampler);
      const d = await page.evaluate(() => ({ ...document.body.dataset, error: document.querySelector('#error').textContent }));
      if (d.state !== 'done') throw new Error(d.error);
      result.seconds.push(Number(d.seconds));
      result.wasm = Math.max(result.wasm, Number(d.wasmMemory));
      result.threads = Number(d.threads);
      const report = await page.evaluate(() => window.calibraReport);
      result.problems = await compareReport(report, nativeOut, COMPARED);
      result.stages = report['manifest.json'].timings_seconds;
      result.engine = d.engine;
      if (screenshots && i === 0) {
        fs.mkdirSync(screenshots, { recursive: true });
        await page.screenshot({ path: path.join(screenshots, `${d.engine}.png`), fullPage: true });
      }
      await page.close();
    }
  } finally {
    await context.close();
    server.close();
  }
  return result;
}

function timeNative(extra = []) {
  const bin = path.join(repo, 'target', 'release', 'calibra');
  if (!fs.existsSync(bin)) execFileSync('cargo', ['build', '--release', '--quiet'], { cwd: repo, stdio: 'inherit' });
  const out = nativeOutRoot;
  const result = { seconds: [], rss: 0 };
  for (let i = 0; i < runs; i++) {
    const cmd = ['-v', bin, 'evaluate', ...extra, '--cells', cells, ...predictions.flatMap((p) => ['--predictions', p]), '--out', path.join(out, `run${i}${extra.join('')}`)];
    const t0 = process.hrtime.bigint();
    const r = spawnSync('/usr/bin/time', cmd, { encoding: 'utf8' });
    result.seconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
    if (r.status !== 0) throw new Error(r.stderr);
    result.rss = Math.max(result.rss, 1024 * Number(r.stderr.match(/Maximum resident set size \(kbytes\): (\d+)/)[1]));
  }
  return result;
}

const nativeOutRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'calibra-bench-out-'));
const nativeOut = path.join(nativeOutRoot, 'run0');

const native = timeNative();
// The page writes no per-gene file unless one is downloaded: `--light` is its native match.
const nativeLight = timeNative(['--light']);
const threaded = await timePage(true);
const fallback = await timePage(false);
const base = median(nativeLight.seconds);
console.log(`${path.basename(path.dirname(cells))}/${path.basename(cells)}: ${(fs.statSync(cells).size / 1e6).toFixed(0)} MB, ${runs} run(s), medians`);
console.log('engine                      time   ×native (--light)  WASM memory  peak RSS');
console.log(`native CLI --light (${os.cpus().length} cores)`.padEnd(26), `${base.toFixed(2)} s`.padStart(9), '1.00'.padStart(8), '-'.padStart(12), mib(nativeLight.rss).padStart(9));
const tn = median(native.seconds);
console.log('native CLI, per-gene files'.padEnd(26), `${tn.toFixed(2)} s`.padStart(9), (tn / base).toFixed(2).padStart(8), '-'.padStart(12), mib(native.rss).padStart(9));
for (const [name, r] of [[`threaded page (${threaded.threads} threads)`, threaded], ['single-thread page', fallback]]) {
  const t = median(r.seconds);
  console.log(name.padEnd(26), `${t.toFixed(2)} s`.padStart(9), (t / base).toFixed(2).padStart(8), mib(r.wasm).padStart(12), mib(r.rss).padStart(9));
}
for (const [name, r] of [['threaded page', threaded], ['single-thread page', fallback]]) {
  console.log(`${name} vs native CLI (${COMPARED.join(', ')}): ${r.problems.length ? `${r.problems.length} differences, e.g. ${r.problems.slice(0, 3).join('; ')}` : 'equal'}`);
}
// Where the time goes: the pipeline's stages (manifest timings), native --light vs the pages.
const lightStages = JSON.parse(fs.readFileSync(path.join(nativeOutRoot, 'run0--light', 'manifest.json'), 'utf8')).timings_seconds;
console.log('stage (s)'.padEnd(18), 'native --light'.padStart(15), 'threaded page'.padStart(14), 'single-thread'.padStart(14));
for (const stage of Object.keys(lightStages)) {
  const cell = (t) => (t === undefined ? '-' : t.toFixed(2));
  console.log(stage.padEnd(18), cell(lightStages[stage]).padStart(15), cell(threaded.stages?.[stage]).padStart(14), cell(fallback.stages?.[stage]).padStart(14));
}
fs.rmSync(nativeOutRoot, { recursive: true, force: true });
