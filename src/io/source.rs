//! Random-access byte sources: a file on disk, bytes in memory, or (in the browser) a `File`
//! read slice by slice. Readers never need the whole input in memory.

use bytes::Bytes;
use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

/// A readable, seekable sequence of bytes with a name for error messages.
pub trait ByteSource: Send + Sync {
    /// Name shown in messages (the file name the user gave).
    fn name(&self) -> &str;
    /// Total size in bytes.
    fn size(&self) -> u64;
    /// Reads exactly `len` bytes starting at `offset`.
    fn read_at(&self, offset: u64, len: usize) -> std::io::Result<Bytes>;
    /// Whether any thread may call `read_at` (false for a browser `File`, which only its
    /// worker can read).
    fn parallel_reads(&self) -> bool {
        true
    }
    /// Whether reading a large range costs next to nothing until its bytes are used (a mapped
    /// local file): then a reader may fetch a whole unit to decode a few of its columns.
    fn cheap_large_reads(&self) -> bool {
        false
    }
}

/// A file on the local disk.
#[cfg(not(target_arch = "wasm32"))]
pub struct FileSource {
    name: String,
    file: std::fs::File,
    size: u64,
}

#[cfg(not(target_arch = "wasm32"))]
impl FileSource {
    /// Opens a file; the error names the path.
    pub fn open(path: &std::path::Path) -> crate::Result<Self> {
        let name = path.display().to_string();
        let io_err = |source| crate::Error::Io {
            path: name.clone(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io_err)?;
        let size = file.metadata().map_err(io_err)?.len();
        Ok(FileSource { name, file, size })
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl ByteSource for FileSource {
    fn name(&self) -> &str {
        &self.name
    }
    fn size(&self) -> u64 {
        self.size
    }
    fn read_at(&self, offset: u64, len: usize) -> std::io::Result<Bytes> {
        if len >= MAP_MIN_LEN
            && offset
                .checked_add(len as u64)
                .is_some_and(|e| e <= self.size)
        {
            // SAFETY: the mapping is read-only and private to these bytes; like every reader
            // of a mapped file, it assumes the file is not truncated while being evaluated.
            let map = unsafe {
                memmap2::MmapOptions::new()
                    .offset(offset)
                    .len(len)
                    .map(&self.file)?
            };
            return Ok(Bytes::from_owner(map));
        }
        let mut buf = vec![0u8; len];
        read_exact_at(&self.file, &mut buf, offset)?;
        Ok(Bytes::from(buf))
    }
    fn cheap_large_reads(&self) -> bool {
        true
    }
}

/// Reads of local files from this size on are mapped instead of copied: an Arrow IPC record
/// batch (hundreds of MB) costs no allocation, zeroing or copy, and only the pages of the
/// columns decoded are touched (and counted in RSS) while the batch is in use.
#[cfg(not(target_arch = "wasm32"))]
const MAP_MIN_LEN: usize = 16 << 20;

#[cfg(unix)]
fn read_exact_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(all(not(unix), not(target_arch = "wasm32")))]
fn read_exact_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    // Positional reads without moving a shared cursor: clone the handle.
    let mut f = file.try_clone()?;
    f.seek(SeekFrom::Start(offset))?;
    f.read_exact(buf)
}

/// Bytes already in memory (tests, the built-in simulator, small browser files).
pub struct MemorySource {
    name: String,
    bytes: Bytes,
}

impl MemorySource {
    /// Wraps in-memory bytes under a display name.
    pub fn new(name: impl Into<String>, bytes: impl Into<Bytes>) -> Self {
        MemorySource {
            name: name.into(),
            bytes: bytes.into(),
        }
    }
}

impl ByteSource for MemorySource {
    fn name(&self) -> &str {
        &self.name
    }
    fn size(&self) -> u64 {
        self.bytes.len() as u64
    }
    fn read_at(&self, offset: u64, len: usize) -> std::io::Result<Bytes> {
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let end = start
            .checked_add(len)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "read past the end of the data",
                )
            })?;
        Ok(self.bytes.slice(start..end))
    }
}

/// A shared source, cheap to clone into readers.
pub type SharedSource = Arc<dyn ByteSource>;

/// `Read + Seek` over a [`ByteSource`], reading in blocks (for the Arrow IPC readers).
pub struct SourceReader {
    source: SharedSource,
    pos: u64,
    block: Bytes,
    block_start: u64,
    block_size: usize,
}

/// Block size of [`SourceReader`]: big enough to amortise browser `File.slice` calls.
const READ_BLOCK: usize = 4 << 20;

impl SourceReader {
    /// A reader positioned at `pos`, reading blocks of [`READ_BLOCK`] bytes.
    pub fn new(source: SharedSource, pos: u64) -> Self {
        Self::with_block_size(source, pos, READ_BLOCK)
    }

    /// A reader positioned at `pos`, reading blocks of `block_size` bytes.
    pub fn with_block_size(source: SharedSource, pos: u64, block_size: usize) -> Self {
        SourceReader {
            source,
            pos,
            block: Bytes::new(),
            block_start: 0,
            block_size: block_size.max(1),
        }
    }
}

impl Read for SourceReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let size = self.source.size();
        if self.pos >= size || buf.is_empty() {
            return Ok(0);
        }
        let in_block =
            self.pos >= self.block_start && self.pos < self.block_start + self.block.len() as u64;
        if !in_block {
            // Large reads bypass the block buffer.
            if buf.len() >= self.block_size {
                let len = buf.len().min((size - self.pos) as usize);
                let bytes = self.source.read_at(self.pos, len)?;
                buf[..len].copy_from_slice(&bytes);
                self.pos += len as u64;
                return Ok(len);
            }
            let len = self.block_size.min((size - self.pos) as usize);
            self.block = self.source.read_at(self.pos, len)?;
            self.block_start = self.pos;
        }
        let off = (self.pos - self.block_start) as usize;
        let n = buf.len().min(self.block.len() - off);
        buf[..n].copy_from_slice(&self.block[off..off + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for SourceReader {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        let size = self.source.size() as i128;
        let target = match pos {
            SeekFrom::Start(p) => p as i128,
            SeekFrom::End(d) => size + d as i128,
            SeekFrom::Current(d) => self.pos as i128 + d as i128,
        };
        if target < 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "seek before start",
            ));
        }
        self.pos = target as u64;
        Ok(self.pos)
    }
}

/// A [`ByteSource`] that reads an inner source in aligned blocks and keeps the most recently used
/// ones. For sources where every read has a high fixed cost (a browser `File` read through
/// `FileReaderSync`: the Parquet decoder makes several small reads per page of every column),
/// while memory stays bounded by `block_size × capacity`.
pub struct BlockCache {
    inner: SharedSource,
    block_size: usize,
    capacity: usize,
    /// (block index, bytes), most recently used last.
    blocks: std::sync::Mutex<std::collections::VecDeque<(u64, Bytes)>>,
}

impl BlockCache {
    /// Caches `capacity` blocks of `block_size` bytes of `inner`.
    pub fn new(inner: SharedSource, block_size: usize, capacity: usize) -> Self {
        BlockCache {
            inner,
            block_size: block_size.max(1),
            capacity: capacity.max(1),
            blocks: std::sync::Mutex::new(std::collections::VecDeque::new()),
        }
    }

    fn block(&self, index: u64) -> std::io::Result<Bytes> {
        let mut blocks = self.blocks.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(at) = blocks.iter().position(|(i, _)| *i == index) {
            let hit = blocks.remove(at).expect("position is in range");
            let bytes = hit.1.clone();
            blocks.push_back(hit);
            return Ok(bytes);
        }
        let start = index * self.block_size as u64;
        let len = (self.block_size as u64).min(self.inner.size().saturating_sub(start)) as usize;
        let bytes = self.inner.read_at(start, len)?;
        if blocks.len() == self.capacity {
            blocks.pop_front();
        }
        blocks.push_back((index, bytes.clone()));
        Ok(bytes)
    }
}

impl ByteSource for BlockCache {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn parallel_reads(&self) -> bool {
        self.inner.parallel_reads()
    }
    fn cheap_large_reads(&self) -> bool {
        self.inner.cheap_large_reads()
    }
    fn size(&self) -> u64 {
        self.inner.size()
    }
    fn read_at(&self, offset: u64, len: usize) -> std::io::Result<Bytes> {
        let end = offset
            .checked_add(len as u64)
            .filter(|&e| e <= self.size())
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("{}: read past the end of the file", self.name()),
                )
            })?;
        if len == 0 {
            return Ok(Bytes::new());
        }
        // Reads as large as a block gain nothing from the cache and would evict it.
        if len >= self.block_size {
            return self.inner.read_at(offset, len);
        }
        let bs = self.block_size as u64;
        let (first, last) = (offset / bs, (end - 1) / bs);
        if first == last {
            let off = (offset - first * bs) as usize;
            return Ok(self.block(first)?.slice(off..off + len));
        }
        let mut out = Vec::with_capacity(len);
        for index in first..=last {
            let block = self.block(index)?;
            let lo = offset.max(index * bs) - index * bs;
            let hi = end.min((index + 1) * bs) - index * bs;
            out.extend_from_slice(&block[lo as usize..hi as usize]);
        }
        Ok(Bytes::from(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn mapped_reads_equal_copied_reads() {
        // Large enough to be mapped, read at an offset that is not page-aligned.
        let data: Vec<u8> = (0..(MAP_MIN_LEN + 10_000) as u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("big.bin");
        std::fs::write(&path, &data).expect("write");
        let file = FileSource::open(&path).expect("open");
        let mapped = file.read_at(4_099, MAP_MIN_LEN).expect("mapped read");
        assert_eq!(&mapped[..], &data[4_099..4_099 + MAP_MIN_LEN]);
        let copied = file.read_at(5, 1_000).expect("copied read");
        assert_eq!(&copied[..], &data[5..1_005]);
        assert!(
            file.read_at(20, MAP_MIN_LEN + 9_990).is_err(),
            "past the end"
        );
    }

    #[test]
    fn block_cache_returns_the_same_bytes_as_its_source() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let inner: SharedSource = Arc::new(MemorySource::new("x", data.clone()));
        let cache = BlockCache::new(inner, 64, 3);
        for (offset, len) in [
            (0, 10),
            (60, 10),
            (63, 130),
            (5000, 64),
            (9990, 10),
            (0, 500),
            (7, 0),
        ] {
            let got = cache.read_at(offset, len).unwrap();
            assert_eq!(&got[..], &data[offset as usize..offset as usize + len]);
        }
        assert!(cache.read_at(9995, 10).is_err());
    }
}
