//! Criterion benches of the hot kernels: sufficient-statistic accumulation of one batch (wide and
//! sparse CSR), the DEG t-test at atlas scale (2000 groups × 8192 genes), the linear baseline's
//! fit, the NIR distance matrix and the bootstrap. `cargo bench --bench kernels`.

use arrow::array::{ArrayRef, Float32Array, ListArray, UInt32Array};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use calibra::baselines::linear;
use calibra::de::ttest::ttest_overestim_var;
use calibra::io::ingest::BatchSink;
use calibra::io::layout::decode::ExpressionArrays;
use calibra::io::sinks::Accumulator;
use calibra::io::ExpressionLayout;
use calibra::metrics::calibrated::nir::nir_scores;
use calibra::stats::bootstrap::bootstrap_mean_ci_many;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ndarray::Array2;
use std::hint::black_box;
use std::sync::Arc;

/// A deterministic pseudo-random value in [0, 1) (splitmix64), so benches need no RNG crate.
fn unit(i: u64) -> f64 {
    let mut z = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
}

fn matrix(rows: usize, cols: usize, salt: u64) -> Array2<f64> {
    Array2::from_shape_fn((rows, cols), |(r, c)| {
        unit(salt ^ ((r * cols + c) as u64)) * 2.0
    })
}

const ROWS: usize = 8192;
const GENES: usize = 2000;
const GROUPS: u32 = 300;
const MANY_GROUPS: u32 = 3000;

fn wide_batch() -> (RecordBatch, Vec<String>) {
    let genes: Vec<String> = (0..GENES).map(|g| format!("G{g}")).collect();
    let fields: Vec<Field> = genes
        .iter()
        .map(|g| Field::new(g, DataType::Float32, false))
        .collect();
    let cols: Vec<ArrayRef> = (0..GENES)
        .map(|g| {
            let v: Float32Array = (0..ROWS)
                .map(|r| {
                    let u = unit((r * GENES + g) as u64);
                    if u < 0.7 {
                        0.0
                    } else {
                        (u * 3.0) as f32
                    }
                })
                .collect();
            Arc::new(v) as ArrayRef
        })
        .collect();
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap();
    (batch, genes)
}

fn csr_batch() -> (RecordBatch, Vec<String>) {
    let genes: Vec<String> = (0..GENES).map(|g| format!("G{g}")).collect();
    let mut offsets = vec![0i32];
    let mut idx = Vec::new();
    let mut val = Vec::new();
    for r in 0..ROWS {
        for g in 0..GENES {
            let u = unit((r * GENES + g) as u64);
            if u >= 0.7 {
                idx.push(g as u32);
                val.push((u * 3.0) as f32);
            }
        }
        offsets.push(idx.len() as i32);
    }
    let offs = OffsetBuffer::new(offsets.into());
    let ifield = Arc::new(Field::new("item", DataType::UInt32, false));
    let vfield = Arc::new(Field::new("item", DataType::Float32, false));
    let indices = ListArray::new(
        ifield.clone(),
        offs.clone(),
        Arc::new(UInt32Array::from(idx)),
        None,
    );
    let values = ListArray::new(
        vfield.clone(),
        offs,
        Arc::new(Float32Array::from(val)),
        None,
    );
    let schema = Schema::new(vec![
        Field::new("indices", DataType::List(ifield), false),
        Field::new("values", DataType::List(vfield), false),
    ]);
    let batch =
        RecordBatch::try_new(Arc::new(schema), vec![Arc::new(indices), Arc::new(values)]).unwrap();
    (batch, genes)
}

fn accumulate(c: &mut Criterion) {
    let groups: Vec<u32> = (0..ROWS as u32).map(|r| r % GROUPS).collect();
    // Every value checked, as the ingest driver does next to the sink.
    let checked = vec![true; GENES];
    let mut group = c.benchmark_group("accumulate_batch_8192x2000");
    group.throughput(Throughput::Elements((ROWS * GENES) as u64));
    let (wide, genes) = wide_batch();
    let layout = ExpressionLayout::Wide {
        columns: (0..GENES).collect(),
    };
    let arrays = ExpressionArrays::from_batch(&wide, &layout, &genes, "bench", 0).unwrap();
    group.bench_function("wide", |b| {
        b.iter(|| {
            let mut acc = Accumulator::new(GENES);
            let view = arrays.view();
            acc.consume(&groups, &view);
            black_box(view.check(&checked, 0, 0));
            acc
        })
    });
    // Shuffled cells of an atlas: ~3 rows of each of thousands of groups per batch.
    let many: Vec<u32> = (0..ROWS as u32).map(|r| r % MANY_GROUPS).collect();
    group.bench_function("wide_3000_groups", |b| {
        b.iter(|| {
            let mut acc = Accumulator::new(GENES);
            let view = arrays.view();
            acc.consume(&many, &view);
            black_box(view.check(&checked, 0, 0));
            acc
        })
    });
    let (csr, genes) = csr_batch();
    let layout = ExpressionLayout::SparseCsr {
        indices: 0,
        values: 1,
    };
    let arrays = ExpressionArrays::from_batch(&csr, &layout, &genes, "bench", 0).unwrap();
    group.bench_function("csr", |b| {
        b.iter(|| {
            let mut acc = Accumulator::new(GENES);
            let view = arrays.view();
            acc.consume(&groups, &view);
            black_box(view.check(&checked, 0, 0));
            acc
        })
    });
    group.finish();
}

fn deg_ttest(c: &mut Criterion) {
    let (k, g) = (2000, 8192);
    let count: Vec<u64> = (0..k).map(|i| 40 + (i % 20) as u64).collect();
    let mean = matrix(k, g, 1);
    let sum = Array2::from_shape_fn((k, g), |(r, c)| mean[[r, c]] * count[r] as f64);
    let sum_sq = Array2::from_shape_fn((k, g), |(r, c)| {
        sum[[r, c]] * mean[[r, c]] * 1.3 + count[r] as f64 * 0.01
    });
    let mut group = c.benchmark_group("deg_ttest");
    group.sample_size(10);
    group.bench_function("2000x8192", |b| {
        b.iter(|| black_box(ttest_overestim_var(&count, sum.view(), sum_sq.view())))
    });
    group.finish();
}

/// One benchmark group of 10 samples with a bench per (perturbations, genes) size; `kernel`
/// prepares the inputs of a size and returns the work to time.
fn by_size<R>(
    c: &mut Criterion,
    name: &str,
    sizes: &[(usize, usize)],
    kernel: impl Fn(usize, usize) -> Box<dyn FnMut() -> R>,
) {
    let mut group = c.benchmark_group(name);
    group.sample_size(10);
    for &(perts, genes) in sizes {
        let mut work = kernel(perts, genes);
        group.bench_with_input(
            BenchmarkId::from_parameter(format!("{perts}x{genes}")),
            &(),
            |b, _| b.iter(|| black_box(work())),
        );
    }
    group.finish();
}

fn linear_baseline(c: &mut Criterion) {
    by_size(
        c,
        "linear_fit",
        &[(300, 2000), (1600, 8192)],
        |perts, genes| {
            let train = matrix(perts, genes, 2);
            let targets: Vec<Option<usize>> = (0..perts).map(|i| Some(i * 5 % genes)).collect();
            let rows: Vec<usize> = (0..perts).collect();
            Box::new(move || linear::fit(train.view(), &rows, &targets, None).map(|(f, _)| f.w))
        },
    );
}

fn nir(c: &mut Criterion) {
    by_size(
        c,
        "nir_distances",
        &[(300, 2000), (400, 8192)],
        |perts, genes| {
            let pred = matrix(perts, genes, 3);
            let truth = matrix(perts, genes, 4);
            Box::new(move || {
                let rows: Vec<_> = pred.rows().into_iter().collect();
                nir_scores(&rows, truth.view())
            })
        },
    );
}

fn bootstrap(c: &mut Criterion) {
    // 14 metrics × 8 models share one index stream over n = 2000 perturbations.
    let samples: Vec<Vec<f64>> = (0..112)
        .map(|s| (0..2000).map(|i| unit((s * 2000 + i) as u64)).collect())
        .collect();
    let refs: Vec<&[f64]> = samples.iter().map(|s| s.as_slice()).collect();
    let mut group = c.benchmark_group("bootstrap");
    group.sample_size(10);
    group.bench_function("112_samples_n2000_1000_resamples", |b| {
        b.iter(|| black_box(bootstrap_mean_ci_many(&refs, 1000, 42, 0.95)))
    });
    group.finish();
}

criterion_group!(
    benches,
    accumulate,
    deg_ttest,
    linear_baseline,
    nir,
    bootstrap
);
criterion_main!(benches);
