//! Body previews of captured exchanges, appended to segment files beside `traffic.db`
//! (`traffic-bodies/<first id>.bodies`) instead of stored as SQLite blobs.
//!
//! A 100 KiB preview written as a blob costs SQLite about 300 µs (a chain of overflow pages,
//! each through the pager); appended to a file it is one vectored write per batch, shared by
//! every exchange in it. Rows keep where their previews are (segment, offset, lengths).
//! Retention deletes rows, then unlinks every segment older than the oldest row left, so the
//! space comes back whole. A segment is closed once it passes its size and a new one starts,
//! so that granularity stays a small part of the size bound.
//!
//! Losing a segment (a crash between the write and the rows, a hand-deleted file) costs only
//! those previews: reading one that is missing or short gives an empty preview.
//!
//! A dev server answers the same bytes again and again (a bundle on every reload, a poll that
//! did not change), and writing a 100 KiB preview into the page cache is most of what capture
//! costs for such a response. So a preview pair of at least [`DEDUPE_MIN`] bytes that is
//! identical to one already in the open segment points at that copy instead of writing
//! another. Identity is a 128-bit XXH3 keyed with a random seed per process (so nobody can
//! prepare a colliding body) plus both lengths. Only the open segment is searched: every row
//! still points into the segment named at or before its own id, so retention stays a
//! matter of unlinking whole segments older than the oldest row.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{self, IoSlice, Write};
use std::path::{Path, PathBuf};

/// The folder beside `traffic.db`.
pub(super) const BODIES_DIR: &str = "traffic-bodies";
const SUFFIX: &str = ".bodies";
/// The largest a segment grows to before the next one starts (smaller under a small bound).
const MAX_SEGMENT: u64 = 16 << 20;
const MIN_SEGMENT: u64 = 64 << 10;
/// At most this many slices per `writev` (Linux's `IOV_MAX` is 1024).
const MAX_SLICES: usize = 1024;
/// Preview pairs smaller than this are written even when a copy exists: hashing and the
/// lookup would cost about what the write does.
const DEDUPE_MIN: usize = 4 << 10;
/// At most this many distinct previews are remembered per segment (about 64 KiB of memory);
/// the memory starts over when it is full.
const DEDUPE_MAX: usize = 1024;

/// What identifies a preview pair: its keyed hash and both lengths. Only the segments make
/// one, from bytes they hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PreviewKey(u128, u64, u64);

/// A large response preview (with no request preview) that was stored, and its key: when the
/// same bytes come again, the proxy compares them as they stream instead of copying them, and
/// the segments are handed the key instead of hashing them again.
#[derive(Debug)]
pub struct KnownPreview {
    bytes: Vec<u8>,
    key: PreviewKey,
}

impl KnownPreview {
    /// The bytes of a stored preview and the key the segments stored exactly those bytes
    /// under ([`crate::store::Inserted::response_keys`]).
    pub(crate) fn new(bytes: Vec<u8>, key: PreviewKey) -> KnownPreview {
        KnownPreview { bytes, key }
    }

    /// The preview.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// What the segments know it by.
    pub fn key(&self) -> PreviewKey {
        self.key
    }

    /// The preview's buffer, for reuse.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// One exchange's previews to append. When `response` is a [`KnownPreview`]'s own bytes,
/// `known` is that preview, and its key is used instead of hashing them.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pair<'a> {
    pub id: i64,
    pub request: &'a [u8],
    pub response: &'a [u8],
    pub known: Option<&'a KnownPreview>,
}

/// Where an exchange's previews are: request then response, back to back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Location {
    pub segment: i64,
    pub at: u64,
    pub request_len: u64,
    pub response_len: u64,
}

/// How long every segment was before an append, to take a failed batch back.
#[derive(Debug, Clone)]
pub(super) struct Mark(BTreeMap<i64, u64>);

/// The segment files. Not thread-safe by itself: the store keeps it behind its mutex.
#[derive(Debug)]
pub(super) struct Bodies {
    dir: PathBuf,
    /// Every segment (its first exchange id) and its length.
    segments: BTreeMap<i64, u64>,
    /// The segment being appended to, open.
    current: Option<(i64, File)>,
    /// Start a new segment once the current one is this long.
    rotate_at: u64,
    /// Where each large preview pair written to the open segment is (see the module's notes).
    written: HashMap<PreviewKey, Location>,
    /// The key of the hash, random per process.
    seed: u64,
}

impl Bodies {
    /// The segments in `dir` (created if missing).
    pub(super) fn open(dir: PathBuf) -> io::Result<Bodies> {
        fs::create_dir_all(&dir)?;
        let mut segments = BTreeMap::new();
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(id) = name
                .to_str()
                .and_then(|n| n.strip_suffix(SUFFIX))
                .and_then(|n| n.parse::<i64>().ok())
            else {
                continue;
            };
            segments.insert(id, entry.metadata()?.len());
        }
        let mut seed = [0; 8];
        getrandom::fill(&mut seed).map_err(io::Error::other)?;
        Ok(Bodies {
            dir,
            segments,
            current: None,
            rotate_at: MAX_SEGMENT,
            written: HashMap::new(),
            seed: u64::from_ne_bytes(seed),
        })
    }

    fn key(&self, pair: &Pair<'_>) -> Option<PreviewKey> {
        let (request, response) = (pair.request, pair.response);
        if request.len() + response.len() < DEDUPE_MIN {
            return None;
        }
        if let Some(known) = pair.known
            && request.is_empty()
            && std::ptr::eq(known.bytes(), response)
        {
            // Hashed when it was first stored.
            return Some(known.key);
        }
        let mut hasher = xxhash_rust::xxh3::Xxh3::with_seed(self.seed);
        hasher.update(request);
        hasher.update(response);
        Some(PreviewKey(
            hasher.digest128(),
            request.len() as u64,
            response.len() as u64,
        ))
    }

    fn path(&self, segment: i64) -> PathBuf {
        segment_path(&self.dir, segment)
    }

    /// Bytes in every segment.
    pub(super) fn total_bytes(&self) -> u64 {
        self.segments.values().sum()
    }

    /// Size segments for a store bounded to `max_bytes`: an eighth of it, within limits.
    pub(super) fn fit_to(&mut self, max_bytes: u64) {
        self.rotate_at = (max_bytes / 8).clamp(MIN_SEGMENT, MAX_SEGMENT);
    }

    /// Where the segments end now, to [`Bodies::undo`] an append.
    pub(super) fn mark(&self) -> Mark {
        Mark(self.segments.clone())
    }

    /// Take back everything appended since `mark`: segments are cut back to their length
    /// then, and segments started since are removed. After a failed write (a full disk) the
    /// lengths kept here would otherwise run ahead of the files, so later previews would be
    /// recorded at offsets where other bytes are; after a batch whose rows could not be
    /// stored, its previews would be bytes nothing points at.
    pub(super) fn undo(&mut self, mark: Mark) {
        let Mark(before) = mark;
        let grown: Vec<(i64, u64)> = self
            .segments
            .iter()
            .filter(|(segment, len)| before.get(segment) != Some(len))
            .map(|(segment, len)| (*segment, *len))
            .collect();
        for (segment, _) in grown {
            let path = self.path(segment);
            let Some(&len) = before.get(&segment) else {
                // Started by the batch: named after an id no stored row has.
                let _ = fs::remove_file(&path);
                self.segments.remove(&segment);
                continue;
            };
            let cut = OpenOptions::new()
                .write(true)
                .open(&path)
                .and_then(|file| file.set_len(len));
            // Cut or not, count what the file really holds: appends go to its end.
            let real = match cut {
                Ok(()) => len,
                Err(_) => fs::metadata(&path).map_or(len, |m| m.len()),
            };
            self.segments.insert(segment, real);
        }
        // The next append opens a segment again and takes its length from the file; what
        // was written since the mark may be gone, so nothing written before is reused.
        self.current = None;
        self.written.clear();
    }

    /// Append each exchange's `(id, request, response)` previews; their locations, in order.
    /// Exchanges with no preview bytes get `None` and take no space. When writing fails,
    /// nothing of the batch is kept.
    #[cfg(test)]
    pub(super) fn append(
        &mut self,
        previews: &[(i64, &[u8], &[u8])],
    ) -> io::Result<Vec<Option<Location>>> {
        let pairs: Vec<Pair<'_>> = previews
            .iter()
            .map(|&(id, request, response)| Pair {
                id,
                request,
                response,
                known: None,
            })
            .collect();
        Ok(self
            .append_pairs(&pairs)?
            .into_iter()
            .map(|(location, _)| location)
            .collect())
    }

    /// Append each exchange's previews; their locations and, for large response previews
    /// with no request preview, the key they are known by, in order. Exchanges with no
    /// preview bytes get no location and take no space. When writing fails, nothing of the
    /// batch is kept.
    pub(super) fn append_pairs(
        &mut self,
        pairs: &[Pair<'_>],
    ) -> io::Result<Vec<(Option<Location>, Option<PreviewKey>)>> {
        let mark = self.mark();
        let appended = self.append_all(pairs);
        if appended.is_err() {
            self.undo(mark);
        }
        appended
    }

    fn append_all(
        &mut self,
        pairs: &[Pair<'_>],
    ) -> io::Result<Vec<(Option<Location>, Option<PreviewKey>)>> {
        let mut locations = Vec::with_capacity(pairs.len());
        let mut pending: Vec<IoSlice<'_>> = Vec::new();
        for pair in pairs {
            let &Pair {
                id,
                request,
                response,
                ..
            } = pair;
            if request.is_empty() && response.is_empty() {
                locations.push((None, None));
                continue;
            }
            let full = self
                .current
                .as_ref()
                .and_then(|(segment, _)| self.segments.get(segment))
                .is_none_or(|len| *len >= self.rotate_at);
            if full {
                self.flush(&mut pending)?;
                self.start(id)?;
            }
            let Some((segment, _)) = self.current.as_ref() else {
                return Err(io::Error::other("no body segment open"));
            };
            let segment = *segment;
            let key = self.key(pair);
            let response_key = key.filter(|_| request.is_empty());
            if let Some(copy) = key.and_then(|key| self.written.get(&key)) {
                locations.push((Some(*copy), response_key));
                continue;
            }
            let len = self.segments.entry(segment).or_insert(0);
            let location = Location {
                segment,
                at: *len,
                request_len: request.len() as u64,
                response_len: response.len() as u64,
            };
            locations.push((Some(location), response_key));
            *len += (request.len() + response.len()) as u64;
            if let Some(key) = key {
                if self.written.len() >= DEDUPE_MAX {
                    self.written.clear();
                }
                self.written.insert(key, location);
            }
            for part in [request, response] {
                if !part.is_empty() {
                    pending.push(IoSlice::new(part));
                }
            }
            if pending.len() >= MAX_SLICES - 1 {
                self.flush(&mut pending)?;
            }
        }
        self.flush(&mut pending)?;
        Ok(locations)
    }

    /// Open a new segment named after the first exchange it holds.
    fn start(&mut self, id: i64) -> io::Result<()> {
        // Ids only grow, but a segment of that name may be left from a crash: append to it.
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path(id))?;
        let len = file.metadata()?.len();
        self.segments.insert(id, len);
        self.current = Some((id, file));
        self.written.clear();
        Ok(())
    }

    /// Write `slices` to the current segment, all of them.
    fn flush(&mut self, slices: &mut Vec<IoSlice<'_>>) -> io::Result<()> {
        if slices.is_empty() {
            return Ok(());
        }
        let Some((_, file)) = self.current.as_mut() else {
            return Err(io::Error::other("no body segment open"));
        };
        let mut rest: &mut [IoSlice<'_>] = slices;
        while !rest.is_empty() {
            let written = file.write_vectored(rest)?;
            if written == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            IoSlice::advance_slices(&mut rest, written);
        }
        slices.clear();
        Ok(())
    }

    /// Delete every segment before `oldest` (the segment of the oldest row still stored; `None`
    /// when no stored row has previews, which frees every segment but the open one).
    pub(super) fn remove_before(&mut self, oldest: Option<i64>) -> io::Result<()> {
        let current = self.current.as_ref().map(|(segment, _)| *segment);
        let dead: Vec<i64> = self
            .segments
            .keys()
            .copied()
            .filter(|s| oldest.is_none_or(|o| *s < o) && Some(*s) != current)
            .collect();
        for segment in dead {
            match fs::remove_file(self.path(segment)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            self.segments.remove(&segment);
        }
        Ok(())
    }

    /// Read the folder again from scratch (after it was moved aside: it is then new and
    /// empty), keeping the segment size.
    pub(super) fn reopen(&mut self) -> io::Result<()> {
        let rotate_at = self.rotate_at;
        *self = Bodies::open(self.dir.clone())?;
        self.rotate_at = rotate_at;
        Ok(())
    }

    /// Delete every segment, the open one too.
    pub(super) fn clear(&mut self) -> io::Result<()> {
        self.current = None;
        self.written.clear();
        self.remove_before(None)
    }
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    while !buf.is_empty() {
        match std::os::windows::fs::FileExt::seek_read(file, buf, offset)? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

fn segment_path(dir: &Path, segment: i64) -> PathBuf {
    dir.join(format!("{segment:020}{SUFFIX}"))
}

/// Reads previews back, opening each segment once.
#[derive(Debug)]
pub(super) struct Reader {
    dir: PathBuf,
    open: Option<(i64, Option<File>)>,
}

impl Reader {
    pub(super) fn new(dir: &Path) -> Reader {
        Reader {
            dir: dir.to_owned(),
            open: None,
        }
    }

    /// The request and response previews at `location`; empty where the segment is gone or
    /// shorter than the row says.
    pub(super) fn read(&mut self, location: Location) -> (Vec<u8>, Vec<u8>) {
        if self
            .open
            .as_ref()
            .is_none_or(|(s, _)| *s != location.segment)
        {
            let file = File::open(segment_path(&self.dir, location.segment)).ok();
            self.open = Some((location.segment, file));
        }
        let Some((_, Some(file))) = self.open.as_ref() else {
            return (Vec::new(), Vec::new());
        };
        let mut both = vec![0; (location.request_len + location.response_len) as usize];
        if read_exact_at(file, &mut both, location.at).is_err() {
            return (Vec::new(), Vec::new());
        }
        let response = both.split_off(location.request_len as usize);
        (both, response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_come_back_from_their_segments_and_rotation_splits_them() {
        let dir = tempfile::tempdir().expect("dir");
        let mut bodies = Bodies::open(dir.path().join(BODIES_DIR)).expect("open");
        bodies.fit_to(0); // the smallest segments: 64 KiB
        let big = vec![b'x'; 40 << 10];
        let rows: Vec<(i64, &[u8], &[u8])> = vec![
            (1, b"req-1", b"resp-1"),
            (2, b"", b""),
            (3, &big, b"after-big"),
            (4, b"", &big),
            (5, b"req-5", b""),
        ];
        let locations = bodies.append(&rows).expect("append");
        assert_eq!(locations[1], None);
        let segments: Vec<i64> = locations.iter().flatten().map(|l| l.segment).collect();
        assert_eq!(
            segments,
            [1, 1, 1, 5],
            "a new segment once one passes 64 KiB"
        );
        let mut reader = Reader::new(&dir.path().join(BODIES_DIR));
        let read = |reader: &mut Reader, i: usize| reader.read(locations[i].expect("location"));
        assert_eq!(
            read(&mut reader, 0),
            (b"req-1".to_vec(), b"resp-1".to_vec())
        );
        assert_eq!(read(&mut reader, 2), (big.clone(), b"after-big".to_vec()));
        assert_eq!(read(&mut reader, 3), (Vec::new(), big.clone()));
        assert_eq!(read(&mut reader, 4), (b"req-5".to_vec(), Vec::new()));
        assert_eq!(
            bodies.total_bytes(),
            5 + 6 + (40 << 10) + 9 + (40 << 10) + 5
        );

        // Reopened, the sizes are counted from the files.
        drop(bodies);
        let mut bodies = Bodies::open(dir.path().join(BODIES_DIR)).expect("reopen");
        assert_eq!(
            bodies.total_bytes(),
            5 + 6 + (40 << 10) + 9 + (40 << 10) + 5
        );
        bodies.remove_before(Some(5)).expect("remove");
        assert!(!segment_path(&dir.path().join(BODIES_DIR), 1).exists());
        let mut reader = Reader::new(&dir.path().join(BODIES_DIR));
        assert_eq!(
            read(&mut reader, 0),
            (Vec::new(), Vec::new()),
            "gone, not an error"
        );
        assert_eq!(read(&mut reader, 4), (b"req-5".to_vec(), Vec::new()));
        bodies.clear().expect("clear");
        assert_eq!(bodies.total_bytes(), 0);
        assert_eq!(
            fs::read_dir(dir.path().join(BODIES_DIR))
                .expect("dir")
                .count(),
            0
        );
    }

    /// A response preview handed in as a known preview (the proxy saw its bytes again) is
    /// found under the key it was stored with, and takes no space; in a new segment it is
    /// written again. Bytes that are not the known preview's own are hashed as usual.
    #[test]
    fn a_known_preview_is_found_by_its_key() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join(BODIES_DIR);
        let mut bodies = Bodies::open(path.clone()).expect("open");
        bodies.fit_to(2 << 20); // 256 KiB segments
        let bundle = vec![b'b'; 100 << 10];
        let pair = |id, response, known| Pair {
            id,
            request: b"",
            response,
            known,
        };
        let first = bodies
            .append_pairs(&[pair(1, &bundle, None)])
            .expect("append");
        let (Some(stored), Some(key)) = first[0] else {
            panic!("a location and a key: {first:?}");
        };
        let known = KnownPreview::new(bundle.clone(), key);
        let size = bodies.total_bytes();
        let again = bodies
            .append_pairs(&[pair(2, known.bytes(), Some(&known))])
            .expect("append");
        assert_eq!(again[0], (Some(stored), Some(key)));
        assert_eq!(bodies.total_bytes(), size, "nothing written");

        // A copy of the bytes, not the known preview's own: hashed, and the same key.
        let copy = bundle.clone();
        let hashed = bodies
            .append_pairs(&[pair(3, &copy, Some(&known))])
            .expect("append");
        assert_eq!(hashed[0], (Some(stored), Some(key)));
        // Other bytes claiming to be known are not taken for it.
        let mut other = bundle.clone();
        other[7] = b'o';
        let different = bodies
            .append_pairs(&[pair(4, &other, Some(&known))])
            .expect("append");
        assert_ne!(different[0].0, Some(stored));
        assert_ne!(different[0].1, Some(key));

        // Past the segment's size the known preview is written into the next one.
        let filler = vec![b'f'; 256 << 10];
        bodies
            .append_pairs(&[pair(5, &filler, None)])
            .expect("append");
        let next = bodies
            .append_pairs(&[pair(6, known.bytes(), Some(&known))])
            .expect("append");
        let location = next[0].0.expect("location");
        assert_eq!(location.segment, 6);
        assert_eq!(Reader::new(&path).read(location), (Vec::new(), bundle));
    }

    /// A large preview pair identical to one in the open segment is stored once; anything
    /// that differs (a byte, where request and response split, the segment) is written.
    #[test]
    fn identical_large_previews_are_written_once_per_segment() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join(BODIES_DIR);
        let mut bodies = Bodies::open(path.clone()).expect("open");
        bodies.fit_to(2 << 20); // 256 KiB segments
        let bundle = vec![b'b'; 100 << 10];
        let mut changed = bundle.clone();
        changed[50 << 10] = b'c';
        let small = vec![b's'; DEDUPE_MIN - 1];
        let first = bodies
            .append(&[
                (1, b"", &bundle),
                (2, b"", &bundle),
                (3, b"", &changed),
                (4, &small, b""),
                (5, &small, b""),
            ])
            .expect("append");
        let again = bodies.append(&[(6, b"", &bundle)]).expect("append");
        let split = bodies
            .append(&[(7, &bundle[..1], &bundle[1..])])
            .expect("append");
        let location = |l: &[Option<Location>], i: usize| l[i].expect("location");
        assert_eq!(location(&first, 1), location(&first, 0), "same batch");
        assert_eq!(location(&again, 0), location(&first, 0), "a later batch");
        assert_ne!(location(&first, 2), location(&first, 0), "one byte differs");
        assert_ne!(
            location(&first, 4),
            location(&first, 3),
            "small ones are written"
        );
        assert_ne!(
            location(&split, 0).at,
            location(&first, 0).at,
            "split differently"
        );
        assert_eq!(
            bodies.total_bytes(),
            3 * (100 << 10) as u64 + 2 * small.len() as u64,
            "the bundle twice (once split differently), the changed copy, both small ones"
        );
        let mut reader = Reader::new(&path);
        for (locations, i, want) in [(&again, 0, &bundle), (&first, 2, &changed)] {
            assert_eq!(
                reader.read(location(locations, i)),
                (Vec::new(), want.clone())
            );
        }

        // The segment is full: the next copy goes to a new one, which every row of it reads.
        let next = bodies
            .append(&[(8, b"", &bundle), (9, b"", &bundle)])
            .expect("append");
        assert_eq!(location(&next, 0).segment, 8);
        assert_eq!(location(&next, 1), location(&next, 0));
        // A batch taken back is not reused: its bytes are gone.
        let mark = bodies.mark();
        let undone = bodies.append(&[(10, b"", &changed)]).expect("append");
        bodies.undo(mark);
        let after = bodies.append(&[(11, b"", &changed)]).expect("append");
        assert_ne!(
            location(&after, 0),
            location(&undone, 0),
            "written again (an undo starts the next segment)"
        );
        assert_eq!(
            reader.read(location(&after, 0)),
            (Vec::new(), changed.clone())
        );
        let kept = 4 * (100 << 10) as u64 + 2 * small.len() as u64;
        assert_eq!(bodies.total_bytes(), kept + (100 << 10) as u64);
    }

    /// A batch taken back (its write failed, or its rows could not be stored) leaves the
    /// files and the lengths as they were, so the next batch's offsets are where its bytes go.
    #[test]
    fn an_undone_append_leaves_no_bytes_and_later_offsets_stay_true() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join(BODIES_DIR);
        let mut bodies = Bodies::open(path.clone()).expect("open");
        bodies.fit_to(0);
        let kept = bodies.append(&[(1, b"kept", b"")]).expect("append");
        let mark = bodies.mark();
        let big = vec![b'x'; 70 << 10];
        let undone = bodies
            .append(&[(2, &big, b""), (3, b"new segment", b"")])
            .expect("append");
        assert_eq!(
            undone
                .iter()
                .flatten()
                .map(|l| l.segment)
                .collect::<Vec<_>>(),
            [1, 3]
        );
        bodies.undo(mark);
        assert_eq!(bodies.total_bytes(), 4);
        assert_eq!(fs::metadata(segment_path(&path, 1)).expect("1").len(), 4);
        assert!(
            !segment_path(&path, 3).exists(),
            "the segment it started is gone"
        );

        let next = bodies.append(&[(4, b"next", b"after")]).expect("append");
        let mut reader = Reader::new(&path);
        assert_eq!(
            reader.read(next[0].expect("location")),
            (b"next".to_vec(), b"after".to_vec())
        );
        assert_eq!(
            reader.read(kept[0].expect("location")),
            (b"kept".to_vec(), Vec::new())
        );
    }

    #[test]
    fn a_short_or_missing_segment_reads_as_empty_previews() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join(BODIES_DIR);
        let mut bodies = Bodies::open(path.clone()).expect("open");
        let locations = bodies.append(&[(9, b"abc", b"defgh")]).expect("append");
        let location = locations[0].expect("location");
        fs::write(segment_path(&path, 9), b"abc").expect("truncate by hand");
        assert_eq!(Reader::new(&path).read(location), (Vec::new(), Vec::new()));
        fs::remove_file(segment_path(&path, 9)).expect("delete by hand");
        assert_eq!(Reader::new(&path).read(location), (Vec::new(), Vec::new()));
    }
}
