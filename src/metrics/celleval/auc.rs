//! Areas under the precision–recall and ROC curves of binary labels ranked by scores, as
//! scikit-learn's `average_precision_score` and `roc_curve` + `auc` compute them: one point
//! per distinct score (tied scores enter together), no interpolation of precision.

/// The (false, true) positive counts at each distinct score, from the highest down.
pub struct Curve {
    /// Cumulative true positives at each threshold.
    tps: Vec<f64>,
    /// Cumulative false positives at each threshold.
    fps: Vec<f64>,
}

impl Curve {
    /// The curve of `labels` (true = positive) ranked by `scores` (same length).
    pub fn new(labels: &[bool], scores: &[f64]) -> Self {
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
        let (mut tps, mut fps) = (Vec::new(), Vec::new());
        let (mut tp, mut fp) = (0.0, 0.0);
        for (i, &o) in order.iter().enumerate() {
            if labels[o] {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
            let last_of_tie = order
                .get(i + 1)
                .is_none_or(|&next| scores[next] != scores[o]);
            if last_of_tie {
                tps.push(tp);
                fps.push(fp);
            }
        }
        Curve { tps, fps }
    }

    /// Σ (Rₙ − Rₙ₋₁) Pₙ over the thresholds (scikit-learn's average precision); NaN without
    /// a positive.
    pub fn average_precision(&self) -> f64 {
        let positives = self.tps.last().copied().unwrap_or(0.0);
        if positives == 0.0 {
            return f64::NAN;
        }
        let mut previous_recall = 0.0;
        let mut ap = 0.0;
        for (&tp, &fp) in self.tps.iter().zip(&self.fps) {
            let recall = tp / positives;
            ap += (recall - previous_recall) * (tp / (tp + fp));
            previous_recall = recall;
        }
        ap
    }

    /// Trapezoidal area under the ROC curve from (0, 0); NaN without a positive or a
    /// negative.
    pub fn roc_auc(&self) -> f64 {
        let (p, n) = match (self.tps.last(), self.fps.last()) {
            (Some(&p), Some(&n)) if p > 0.0 && n > 0.0 => (p, n),
            _ => return f64::NAN,
        };
        let (mut x0, mut y0, mut area) = (0.0, 0.0, 0.0);
        for (&tp, &fp) in self.tps.iter().zip(&self.fps) {
            let (x, y) = (fp / n, tp / p);
            area += (x - x0) * (y + y0) / 2.0;
            (x0, y0) = (x, y);
        }
        area
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_scikit_learn_on_a_tied_example() {
        // sklearn: average_precision_score([1,0,1,1,0,0], [.9,.8,.8,.4,.3,.1]) = 0.8055555…,
        // roc_auc_score(...) = 0.8333333…
        let labels = [true, false, true, true, false, false];
        let scores = [0.9, 0.8, 0.8, 0.4, 0.3, 0.1];
        let c = Curve::new(&labels, &scores);
        assert!((c.average_precision() - 0.805_555_555_555_555_6).abs() < 1e-15);
        assert!((c.roc_auc() - 0.833_333_333_333_333_4).abs() < 1e-15);
    }

    #[test]
    fn perfect_and_reversed_rankings() {
        let labels = [true, true, false];
        let c = Curve::new(&labels, &[3.0, 2.0, 1.0]);
        assert_eq!((c.average_precision(), c.roc_auc()), (1.0, 1.0));
        let c = Curve::new(&labels, &[1.0, 2.0, 3.0]);
        assert_eq!(c.roc_auc(), 0.0);
    }
}
