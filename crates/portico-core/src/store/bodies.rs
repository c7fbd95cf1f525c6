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

use std::collections::BTreeMap;
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
        Ok(Bodies {
            dir,
            segments,
            current: None,
            rotate_at: MAX_SEGMENT,
        })
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
        // The next append opens a segment again and takes its length from the file.
        self.current = None;
    }

    /// Append each exchange's `(id, request, response)` previews; their locations, in order.
    /// Exchanges with no preview bytes get `None` and take no space. When writing fails,
    /// nothing of the batch is kept.
    pub(super) fn append(
        &mut self,
        previews: &[(i64, &[u8], &[u8])],
    ) -> io::Result<Vec<Option<Location>>> {
        let mark = self.mark();
        let appended = self.append_all(previews);
        if appended.is_err() {
            self.undo(mark);
        }
        appended
    }

    fn append_all(
        &mut self,
        previews: &[(i64, &[u8], &[u8])],
    ) -> io::Result<Vec<Option<Location>>> {
        let mut locations = Vec::with_capacity(previews.len());
        let mut pending: Vec<IoSlice<'_>> = Vec::new();
        for &(id, request, response) in previews {
            if request.is_empty() && response.is_empty() {
                locations.push(None);
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
            let len = self.segments.entry(segment).or_insert(0);
            locations.push(Some(Location {
                segment,
                at: *len,
                request_len: request.len() as u64,
                response_len: response.len() as u64,
            }));
            *len += (request.len() + response.len()) as u64;
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
