//! The DEG test's Student-t tails (`student_t_sf_many`: statrs' incomplete beta, eight tails at
//! a time) on a dense (t, df) grid, tails included, against scipy 1.17.1 (the reference's
//! p-values) and the exact values (mpmath, 40 digits): `tests/fixtures/student_t_scipy.csv`,
//! written by `scripts/student_t_scipy.py`.

use calibra::stats::distributions::{student_t_sf, student_t_sf_many};

struct Point {
    t: f64,
    df: f64,
    scipy: f64,
    exact: f64,
}

fn grid() -> Vec<Point> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/student_t_scipy.csv"
    );
    std::fs::read_to_string(path)
        .expect("the fixture is committed")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with('t'))
        .map(|l| {
            let v: Vec<f64> = l.split(',').map(|x| x.parse().expect("a number")).collect();
            Point {
                t: v[0],
                df: v[1],
                scipy: v[2],
                exact: v[3],
            }
        })
        .collect()
}

fn rel(a: f64, b: f64) -> f64 {
    ((a - b) / b).abs()
}

#[test]
fn tails_against_scipy_and_the_exact_values() {
    let grid = grid();
    let t: Vec<f64> = grid.iter().map(|p| p.t).collect();
    let df: Vec<f64> = grid.iter().map(|p| p.df).collect();
    let mut ours = vec![0.0; grid.len()];
    student_t_sf_many(&t, &df, &mut ours);

    // Every value within `tolerance(df)` of the exact one: statrs' continued fraction with the
    // prefactor and both arguments at full precision (`student_t_sf`'s doc) — 1.5e-13 up to
    // df = 5,000; beyond, the continued fraction itself loses ~df·1e-17 (2.6e-11 at df = 1e6,
    // where statrs alone lost 2.5e-9). Against scipy: the same, plus scipy's own error (2.8e-11
    // at df = 1, t → 0, where calibra is exact to 1.3e-15).
    let tolerance = |df: f64| f64::max(2e-13, df * 1e-16);
    let mut dfs: Vec<f64> = df.clone();
    dfs.dedup();
    eprintln!(
        "df: max relative deviation of calibra from exact | scipy from exact | calibra from scipy"
    );
    for &d in &dfs {
        let at: Vec<usize> = (0..grid.len()).filter(|&i| grid[i].df == d).collect();
        let max = |f: &dyn Fn(usize) -> f64| at.iter().map(|&i| f(i)).fold(0.0, f64::max);
        let ours_exact = max(&|i| rel(ours[i], grid[i].exact));
        let scipy_exact = max(&|i| rel(grid[i].scipy, grid[i].exact));
        let ours_scipy = max(&|i| rel(ours[i], grid[i].scipy));
        eprintln!("{d:>9}: {ours_exact:.1e} | {scipy_exact:.1e} | {ours_scipy:.1e}");
    }
    for (i, p) in grid.iter().enumerate() {
        assert_eq!(
            ours[i].to_bits(),
            student_t_sf(p.t, p.df).to_bits(),
            "t {} df {}: the batch and one alone differ",
            p.t,
            p.df
        );
        assert!(
            rel(ours[i], p.exact) <= tolerance(p.df),
            "t {} df {}: {} vs exact {}",
            p.t,
            p.df,
            ours[i],
            p.exact
        );
        let scipy_error = (p.scipy - p.exact).abs();
        assert!(
            (ours[i] - p.scipy).abs() <= tolerance(p.df) * p.scipy + scipy_error,
            "t {} df {}: {} vs scipy {}",
            p.t,
            p.df,
            ours[i],
            p.scipy
        );
    }
}
