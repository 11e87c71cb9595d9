// Compares the page's report (rows as objects) with every expected table (CSV and Parquet), with the
// golden tolerance: floats ≤1e-9 relative or 1e-12 absolute, identical NaNs and row sets.
import fs from 'node:fs';
import path from 'node:path';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';

const KEYS = {
  'metrics.csv': ['model', 'perturbation', 'metric'], 'summary.csv': ['model', 'metric'],
  'drf.csv': ['metric', 'drf_type', 'perturbation'], 'drf_summary.csv': ['metric', 'drf_type'],
  'stats.csv': ['model', 'metric'], 'perturbations.csv': ['perturbation'],
  'deg_gt.parquet': ['perturbation', 'gene'], 'deg_td.parquet': ['perturbation', 'gene'],
  'baselines.parquet': ['model', 'perturbation', 'fold'],
  'celleval_results.csv': ['model', 'perturbation'],
  'celleval2_results.csv': ['model', 'perturbation', 'metric'],
  'celleval2_vcc2026_score.csv': ['model', 'metric'],
};

/** Rows of a Parquet file, zstd included (int64 columns arrive as BigInt; the page reports Numbers). */
export async function readParquet(file) {
  const rows = await parquetReadObjects({ file: await asyncBufferFromFile(file), compressors });
  return rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v])));
}

function parseCell(s) {
  if (s === 'True') return true;
  if (s === 'False') return false;
  if (s === 'NaN') return NaN;
  if (s === 'inf') return Infinity;
  if (s === '-inf') return -Infinity;
  const x = Number(s);
  return s !== '' && !Number.isNaN(x) ? x : s;
}

export function readCsv(file) {
  const [head, ...lines] = fs.readFileSync(file, 'utf8').trim().split('\n');
  const cols = head.split(',');
  return lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [cols[i], parseCell(v)])));
}

function same(a, e) {
  // An empty CSV cell is a missing value, null in the page.
  if (e === '' && a === null) return true;
  if (typeof e === 'number' && typeof a === 'number') {
    if (Number.isNaN(e) || Number.isNaN(a)) return Number.isNaN(e) && Number.isNaN(a);
    return a === e || Math.abs(a - e) <= 1e-12 || Math.abs(a - e) <= 1e-9 * Math.abs(e);
  }
  return a === e;
}

/** The tables every run writes (a family's own files only exist when it ran). */
const EVERY_RUN = Object.keys(KEYS).filter((f) => !f.startsWith('celleval'));

/** Problems found (empty when the report matches), over `files` (default: every run's tables). */
export async function compareReport(report, expectedDir, files = EVERY_RUN) {
  const problems = [];
  for (const [file, keys] of Object.entries(KEYS).filter(([f]) => files.includes(f))) {
    const where = path.join(expectedDir, file);
    const expected = file.endsWith('.csv') ? readCsv(where) : await readParquet(where);
    const actual = report[file];
    if (!Array.isArray(actual)) { problems.push(`${file}: missing from the report`); continue; }
    const key = (r) => keys.map((k) => r[k]).join('|');
    const index = new Map(actual.map((r) => [key(r), r]));
    if (index.size !== actual.length) problems.push(`${file}: duplicate keys ${keys.join(',')}`);
    if (actual.length !== expected.length) problems.push(`${file}: ${actual.length} rows, expected ${expected.length}`);
    for (const e of expected) {
      const a = index.get(key(e));
      if (!a) { problems.push(`${file}: missing row ${key(e)}`); continue; }
      for (const [col, ev] of Object.entries(e)) {
        if (!same(a[col], ev)) problems.push(`${file} ${key(e)} ${col}: ${a[col]} vs ${ev}`);
      }
    }
  }
  return problems.slice(0, 30);
}
