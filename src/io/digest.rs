//! The BLAKE3 hash of an input, computed from the bytes the readers read anyway (SPEC §9's
//! manifest hash): no second pass over the file, and on every reading thread.
//!
//! BLAKE3 is a tree hash, so the file can be hashed in any order: every aligned block of
//! [`BLOCK`] bytes that a read covers gets its chaining value when the read returns, while its
//! bytes are in cache; at the end the blocks no read covered whole (edges of reads, bytes no
//! reader needs) are read and hashed, and the chaining values are merged up BLAKE3's tree into
//! the root hash — equal to `blake3::hash` of the whole file (unit tests).

use super::source::{ByteSource, SharedSource};
use blake3::hazmat::{
    left_subtree_len, merge_subtrees_non_root, merge_subtrees_root, ChainingValue, HasherExt, Mode,
};
use bytes::Bytes;
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

/// Bytes per hashed block: a power of two of BLAKE3 chunks (64 chunks, so the hasher's SIMD
/// lanes are full), small enough that most of a read's blocks lie whole inside it.
const BLOCK: u64 = 64 << 10;

/// Reads holding this many blocks (4 MiB) hash them on every thread.
const PARALLEL_BLOCKS: u64 = 64;

/// Reads of the tail pass, which hashes the blocks no read covered.
const TAIL_READ: u64 = 16 << 20;

/// A [`ByteSource`] that hashes what is read through it; [`HashingSource::finish`] gives the
/// file's BLAKE3 hash.
pub struct HashingSource {
    inner: SharedSource,
    /// The chaining value of each block, set by the read that claimed it.
    blocks: Vec<OnceLock<ChainingValue>>,
    /// Whether a read has taken the block on (it sets the value before its read returns).
    claimed: Vec<AtomicBool>,
}

impl HashingSource {
    /// Wraps `inner`; reads go through unchanged.
    pub fn new(inner: SharedSource) -> Arc<Self> {
        let count = inner.size().div_ceil(BLOCK) as usize;
        Arc::new(HashingSource {
            inner,
            blocks: (0..count).map(|_| OnceLock::new()).collect(),
            claimed: (0..count).map(|_| AtomicBool::new(false)).collect(),
        })
    }

    /// Hashes every block that `bytes` (read at `offset`) holds whole and that no read claimed
    /// before. Readers of one file often read the same range at once (every column set of an
    /// Arrow IPC batch maps the batch): a block is hashed by the one read that claims it, and the
    /// blocks of a large read are hashed in parallel.
    fn hash_blocks_of(&self, offset: u64, bytes: &[u8]) {
        let end = offset + bytes.len() as u64;
        let size = self.inner.size();
        let first = offset.div_ceil(BLOCK);
        let last = (end / BLOCK + u64::from(end == size && !end.is_multiple_of(BLOCK)))
            .min(self.blocks.len() as u64);
        let hash = |index: u64| {
            if self.claimed[index as usize].swap(true, Ordering::Relaxed) {
                return;
            }
            let start = index * BLOCK;
            let stop = (start + BLOCK).min(size);
            let from = (start - offset) as usize;
            let value = block_value(start, &bytes[from..from + (stop - start) as usize]);
            let _ = self.blocks[index as usize].set(value);
        };
        if last.saturating_sub(first) >= PARALLEL_BLOCKS {
            (first..last).into_par_iter().for_each(hash);
        } else {
            (first..last).for_each(hash);
        }
    }

    /// `blake3:` and the hex digest of the whole file: hashes the blocks no read covered (read
    /// now, in windows of [`TAIL_READ`]), then merges the blocks' chaining values.
    pub fn finish(&self) -> std::io::Result<String> {
        let size = self.inner.size();
        if size <= BLOCK {
            // One block is the root itself: no chaining values to merge.
            let bytes = self.inner.read_at(0, size as usize)?;
            return Ok(format!("blake3:{}", blake3::hash(&bytes).to_hex()));
        }
        let mut index = 0;
        while index < self.blocks.len() {
            if self.claimed[index].load(Ordering::Relaxed) {
                index += 1;
                continue;
            }
            let mut last = index + 1;
            while last < self.blocks.len()
                && !self.claimed[last].load(Ordering::Relaxed)
                && (last + 1 - index) as u64 * BLOCK <= TAIL_READ
            {
                last += 1;
            }
            let start = index as u64 * BLOCK;
            let len = (last as u64 * BLOCK).min(size) - start;
            self.hash_blocks_of(start, &self.inner.read_at(start, len as usize)?);
            index = last;
        }
        let left = left_subtree_len(size);
        let root = merge_subtrees_root(
            &self.subtree(0, left),
            &self.subtree(left, size - left),
            Mode::Hash,
        );
        Ok(format!("blake3:{}", root.to_hex()))
    }

    /// The chaining value of the subtree of `len` bytes at `offset` (BLAKE3's tree: the left
    /// subtree holds the largest power of two of chunks below the whole).
    fn subtree(&self, offset: u64, len: u64) -> ChainingValue {
        if len <= BLOCK {
            return *self.blocks[(offset / BLOCK) as usize]
                .get()
                .expect("finish hashed every block");
        }
        let left = left_subtree_len(len);
        merge_subtrees_non_root(
            &self.subtree(offset, left),
            &self.subtree(offset + left, len - left),
            Mode::Hash,
        )
    }
}

/// The chaining value of one block (`bytes`, at `offset` in the file).
fn block_value(offset: u64, bytes: &[u8]) -> ChainingValue {
    blake3::Hasher::new()
        .set_input_offset(offset)
        .update(bytes)
        .finalize_non_root()
}

impl ByteSource for HashingSource {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn size(&self) -> u64 {
        self.inner.size()
    }
    fn read_at(&self, offset: u64, len: usize) -> std::io::Result<Bytes> {
        let bytes = self.inner.read_at(offset, len)?;
        self.hash_blocks_of(offset, &bytes);
        Ok(bytes)
    }
    fn parallel_reads(&self) -> bool {
        self.inner.parallel_reads()
    }
    fn cheap_large_reads(&self) -> bool {
        self.inner.cheap_large_reads()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::MemorySource;

    fn bytes(len: usize, seed: u64) -> Vec<u8> {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect()
    }

    fn hashed(data: &[u8], reads: &[(u64, usize)]) -> String {
        let source = HashingSource::new(Arc::new(MemorySource::new("t", data.to_vec())));
        for &(offset, len) in reads {
            let got = source.read_at(offset, len).unwrap();
            assert_eq!(&got[..], &data[offset as usize..offset as usize + len]);
        }
        source.finish().unwrap()
    }

    #[test]
    fn equals_blake3_of_the_whole_file_whatever_was_read() {
        let b = BLOCK as usize;
        // Sizes around chunks, blocks and powers of two; reads in any order, overlapping,
        // unaligned, none, or covering everything.
        for (i, &size) in [
            0,
            1,
            1024,
            1025,
            b - 1,
            b,
            b + 1,
            2 * b,
            3 * b + 17,
            9 * b + 4096,
            40 * b + 1,
        ]
        .iter()
        .enumerate()
        {
            let data = bytes(size, i as u64 + 1);
            let expected = format!("blake3:{}", blake3::hash(&data).to_hex());
            let s = size as u64;
            let patterns: Vec<Vec<(u64, usize)>> = vec![
                vec![],
                vec![(0, size)],
                vec![(s / 3, size - size / 3), (0, size / 2)],
                (0..size)
                    .step_by(7919)
                    .map(|o| (o as u64, 5000.min(size - o)))
                    .rev()
                    .collect(),
                (0..size)
                    .step_by(b / 2)
                    .map(|o| (o as u64, (b + 100).min(size - o)))
                    .collect(),
            ];
            for reads in patterns {
                assert_eq!(
                    hashed(&data, &reads),
                    expected,
                    "size {size}, reads {reads:?}"
                );
            }
        }
    }
}
