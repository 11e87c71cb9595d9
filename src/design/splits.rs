//! Halves and folds assigned by calibra when the cells file carries none (SPEC §2): seeded,
//! so that the same file and seed always give the same split.

use crate::data::is_combo;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// For each label id a mask over its cells in file order: the cells at the first ⌊n/2⌋
/// positions of a seeded permutation are GT (SPEC §2). `keys[id]` is the label's (context,
/// label) and `counts[id]` its number of cells; labels are permuted in the order of their keys.
pub fn assign_halves(keys: &[(&str, &str)], counts: &[u64], seed: u64) -> Vec<Vec<bool>> {
    let mut order: Vec<u32> = (0..counts.len() as u32).collect();
    order.sort_by(|&a, &b| keys[a as usize].cmp(&keys[b as usize]));
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut masks = vec![Vec::new(); counts.len()];
    for id in order {
        let n = counts[id as usize] as usize;
        let mut perm: Vec<usize> = (0..n).collect();
        perm.shuffle(&mut rng);
        let mut mask = vec![false; n];
        for &p in &perm[..n / 2] {
            mask[p] = true;
        }
        masks[id as usize] = mask;
    }
    masks
}

/// Folds when the file has none (SPEC §2): single datasets 5-fold CV over sorted labels permuted
/// with the seed, chunk sizes n//5 + (f < n%5); combo datasets 2-fold over combos (fold 0 = first
/// n//2), singles −1. Returns a fold per label of `names` (sorted, control excluded by caller).
pub fn assign_folds(names: &[&str], seed: u64) -> Vec<i64> {
    let combo = names.iter().any(|n| is_combo(n));
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5EED_F01D);
    let mut folds = vec![-1i64; names.len()];
    let mut tested: Vec<usize> = (0..names.len())
        .filter(|&i| !combo || is_combo(names[i]))
        .collect();
    tested.shuffle(&mut rng);
    let n = tested.len();
    if combo {
        for (pos, &i) in tested.iter().enumerate() {
            folds[i] = if pos < n / 2 { 0 } else { 1 };
        }
    } else {
        let mut pos = 0;
        for f in 0..5usize {
            let size = n / 5 + usize::from(f < n % 5);
            for &i in &tested[pos..pos + size] {
                folds[i] = f as i64;
            }
            pos += size;
        }
    }
    folds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_chunks_have_spec_sizes() {
        let names: Vec<String> = (0..13).map(|i| format!("G{i:02}")).collect();
        let refs: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
        let f = assign_folds(&refs, 42);
        let mut sizes = [0; 5];
        for x in &f {
            sizes[*x as usize] += 1;
        }
        assert_eq!(sizes, [3, 3, 3, 2, 2]);
        assert_eq!(f, assign_folds(&refs, 42));
    }

    #[test]
    fn combo_folds_leave_singles_untested() {
        let f = assign_folds(&["A", "A+B", "B", "B+C", "C"], 1);
        assert_eq!(f[0], -1);
        assert_eq!(f[2], -1);
        let mut combos = vec![f[1], f[3]];
        combos.sort();
        assert_eq!(combos, vec![0, 1]);
    }

    #[test]
    fn halves_put_half_of_each_label_in_gt() {
        let masks = assign_halves(&[("", "b"), ("", "a")], &[5, 4], 42);
        assert_eq!(masks[0].iter().filter(|&&g| g).count(), 2);
        assert_eq!(masks[1].iter().filter(|&&g| g).count(), 2);
        assert_eq!(masks, assign_halves(&[("", "b"), ("", "a")], &[5, 4], 42));
    }
}
