//! Serving a route's folder directly instead of proxying: files (through tower-http's
//! [`ServeDir`]), `index.html` on directories, the single-page-app fallback and directory
//! listings.
//!
//! This module owns decoding the request path and the confinement that keeps every read
//! inside the folder: `..` and `.` segments, backslashes, encoded slashes, control bytes,
//! absolute paths and drive letters are refused before anything touches the disk, and every
//! file opened (including `index.html`, the SPA fallback and precompressed `.br`/`.gz`
//! siblings) is canonicalized first and refused when it leads outside the folder, unless
//! [`StaticOptions::follow_symlinks`] says otherwise.
//!
//! It does not match routes or strip their prefix (the proxy does, and passes the prefix-less
//! path), does not compress files on the fly (`compress`), and does not render the page shown
//! when the folder itself is unusable (the proxy turns an [`Error`] into its error page).
//!
//! Choices a caller may notice:
//! - Refused paths answer `400 Bad Request` with the reason; files that do not exist, and
//!   files reached through a symbolic link leading outside the folder, answer `404`. Empty
//!   (`a//b`) and `.` segments are refused too rather than collapsed: browsers never send them.
//! - A directory without `index.html` when listings are off counts as missing, so the SPA
//!   fallback may answer it; with listings on it is listed.
//! - A directory requested without its trailing slash is redirected (`307`) with a *relative*
//!   `Location` (`./name/`), so the redirect is right whatever route prefix was stripped.
//! - Hidden (dot) files are served and listed: this is a development tool, and hiding them
//!   from listings while still serving them would only suggest a protection that is not there.
//! - Non-regular files (sockets, FIFOs, devices) are treated as missing, so a FIFO in the
//!   folder cannot hang a request.

use std::fmt::Write as _;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Empty, Full};
use tower_http::services::fs::{
    Backend, ServeDir, ServeFileSystemResponseBody, TokioBackend, TokioFile,
};

use crate::proxy::{BoxError, ProxyBody};

/// How a route serves its folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticOptions {
    /// The folder (absolute). No default; a relative path is refused with
    /// [`Error::NotAbsolute`].
    pub dir: PathBuf,
    /// Answer paths that match no file with `index.html` (single-page apps). Default false.
    pub spa: bool,
    /// List a directory's files when it has no `index.html`. Default false.
    pub listing: bool,
    /// Follow symbolic links that lead outside the folder. Default false (refused).
    pub follow_symlinks: bool,
}

impl StaticOptions {
    /// Options serving `dir` with every switch at its default (no SPA fallback, no listing,
    /// symbolic links confined to the folder).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            spa: false,
            listing: false,
            follow_symlinks: false,
        }
    }
}

/// Why a folder cannot be served at all (the proxy turns these into its error pages).
///
/// A single missing or unreadable file is not an `Error`: it is a `404`/`403` response.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The route names a relative folder, which would depend on Portico's working directory.
    #[error("static folder {} is not an absolute path — give its full path in the route", dir.display())]
    NotAbsolute {
        /// The folder as configured.
        dir: PathBuf,
    },
    /// Nothing exists at the folder's path.
    #[error("static folder missing: {} — create it or change the route", dir.display())]
    Missing {
        /// The folder as configured.
        dir: PathBuf,
    },
    /// The path exists but is a file (or something else that is not a directory).
    #[error("static folder {} is not a directory — point the route at a folder", dir.display())]
    NotADirectory {
        /// The folder as configured.
        dir: PathBuf,
    },
    /// The folder exists but cannot be resolved or opened (permissions, I/O).
    #[error("static folder {} cannot be read ({source}) — check its permissions", dir.display())]
    Unreadable {
        /// The folder as configured.
        dir: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
}

impl Error {
    /// The folder the error is about, as configured.
    pub fn dir(&self) -> &Path {
        match self {
            Self::NotAbsolute { dir }
            | Self::Missing { dir }
            | Self::NotADirectory { dir }
            | Self::Unreadable { dir, .. } => dir,
        }
    }
}

/// Answer `req` (GET or HEAD; other methods get 405 with `Allow: GET, HEAD`) for `path`
/// (the request path with the route's prefix removed, starting with `/`, still percent-encoded,
/// without the query).
///
/// A `path` without its leading `/` is read as if it had one. It may also be empty when the
/// request named the route's prefix itself (`/app` for a route on `/app`): the folder root is
/// then redirected to `./app/`, the last segment being taken from `req`'s URI. Only the
/// method, the URI's query and last segment, and the headers of `req` are read (`Range`,
/// `If-None-Match`, `If-Modified-Since`, `Accept-Encoding`, `Accept` among them); its body is
/// never touched.
///
/// Status codes: `400` for a refused path (the body says why), `404` for a missing file or one
/// reached through a symbolic link leading outside, `307` to add a directory's trailing slash,
/// `403`/`500` when a file exists but cannot be read, `405` for other methods; and whatever
/// [`ServeDir`] answers for a file (`200`, `206`, `304`, `412`, `416`).
///
/// # Errors
///
/// Only when the folder itself cannot be served ([`Error`]); everything about a single path
/// (refused, missing, unreadable) is a response.
pub async fn serve<B>(
    req: &Request<B>,
    path: &str,
    opts: &StaticOptions,
) -> Result<Response<ProxyBody>, Error> {
    let root = open_folder(&opts.dir).await?;
    let head = req.method() == Method::HEAD;
    if req.method() != Method::GET && !head {
        let mut res = text(
            StatusCode::METHOD_NOT_ALLOWED,
            "405 method not allowed: a static folder answers GET and HEAD only\n".into(),
            false,
        );
        res.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return Ok(res);
    }
    let rel = match RelPath::parse(path) {
        Ok(rel) => rel,
        Err(refusal) => {
            return Ok(text(
                StatusCode::BAD_REQUEST,
                format!("400 bad request: {refusal}; nothing was read\n"),
                head,
            ));
        }
    };
    let site = Site {
        fs: Confined {
            root: root.into(),
            follow_symlinks: opts.follow_symlinks,
        },
        opts,
        head,
    };
    Ok(site.answer(req, &rel).await)
}

/// Checks the folder and returns its canonical path, the reference every file is confined to.
async fn open_folder(dir: &Path) -> Result<PathBuf, Error> {
    if !dir.is_absolute() {
        return Err(Error::NotAbsolute {
            dir: dir.to_path_buf(),
        });
    }
    let root = tokio::fs::canonicalize(dir).await.map_err(|source| {
        if source.kind() == io::ErrorKind::NotFound {
            Error::Missing {
                dir: dir.to_path_buf(),
            }
        } else {
            Error::Unreadable {
                dir: dir.to_path_buf(),
                source,
            }
        }
    })?;
    let meta = tokio::fs::metadata(&root)
        .await
        .map_err(|source| Error::Unreadable {
            dir: dir.to_path_buf(),
            source,
        })?;
    if !meta.is_dir() {
        return Err(Error::NotADirectory {
            dir: dir.to_path_buf(),
        });
    }
    // Opening the directory is what fails on a folder without read permission; better one
    // clear error than a 403 on every file.
    let _entries = tokio::fs::read_dir(&root)
        .await
        .map_err(|source| Error::Unreadable {
            dir: dir.to_path_buf(),
            source,
        })?;
    Ok(root)
}

/// Why a request path is refused before anything is read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
enum Refusal {
    #[error("malformed percent-encoding in path")]
    BadEscape,
    #[error("path is not UTF-8 once decoded")]
    NotUtf8,
    #[error("control character in path")]
    ControlByte,
    #[error("backslash in path")]
    Backslash,
    #[error("encoded slash (%2F) inside a path segment")]
    EncodedSlash,
    #[error("`.` or `..` segment in path")]
    DotSegment,
    #[error("empty segment (`//`) in path")]
    EmptySegment,
    #[error("drive letter or colon in path")]
    DriveLetter,
    #[error("path segment is not a plain file name")]
    NotAName,
}

/// A request path decoded and checked: each segment is a plain file name.
#[derive(Debug, PartialEq, Eq)]
struct RelPath {
    segments: Vec<String>,
    /// The path ended with `/` (always true for `/` itself, false for an empty path).
    trailing_slash: bool,
}

impl RelPath {
    fn parse(path: &str) -> Result<Self, Refusal> {
        if path.is_empty() {
            return Ok(Self {
                segments: Vec::new(),
                trailing_slash: false,
            });
        }
        let rest = path.strip_prefix('/').unwrap_or(path);
        if rest.is_empty() {
            return Ok(Self {
                segments: Vec::new(),
                trailing_slash: true,
            });
        }
        let (rest, trailing_slash) = match rest.strip_suffix('/') {
            Some(rest) => (rest, true),
            None => (rest, false),
        };
        let segments = rest
            .split('/')
            .map(decode_segment)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            segments,
            trailing_slash,
        })
    }

    fn join_onto(&self, root: &Path) -> PathBuf {
        let mut path = root.to_path_buf();
        path.extend(&self.segments);
        path
    }

    /// The path re-encoded so that decoding it once gives back exactly these segments.
    fn encoded(&self) -> String {
        let mut out = String::from("/");
        for (i, segment) in self.segments.iter().enumerate() {
            if i > 0 {
                out.push('/');
            }
            encode_segment(segment, &mut out);
        }
        if self.trailing_slash && !self.segments.is_empty() {
            out.push('/');
        }
        out
    }

    /// The decoded path, for messages and titles.
    fn display(&self) -> String {
        let mut out = format!("/{}", self.segments.join("/"));
        if self.trailing_slash && !self.segments.is_empty() {
            out.push('/');
        }
        out
    }

    /// Whether a missing path should get the SPA's `index.html` rather than a 404.
    fn looks_like_a_page(&self) -> bool {
        self.trailing_slash
            || self
                .segments
                .last()
                .is_none_or(|s| Path::new(s).extension().is_none())
    }
}

fn decode_segment(raw: &str) -> Result<String, Refusal> {
    if raw.is_empty() {
        // A leading `//` would make the rest an absolute path once joined.
        return Err(Refusal::EmptySegment);
    }
    let bytes = percent_decode(raw)?;
    if bytes.contains(&b'/') {
        return Err(Refusal::EncodedSlash);
    }
    if bytes.contains(&b'\\') {
        return Err(Refusal::Backslash);
    }
    if bytes.iter().any(|b| b.is_ascii_control()) {
        return Err(Refusal::ControlByte);
    }
    let segment = String::from_utf8(bytes).map_err(|_| Refusal::NotUtf8)?;
    if segment == "." || segment == ".." {
        return Err(Refusal::DotSegment);
    }
    let mut chars = segment.chars();
    if let (Some(first), Some(':')) = (chars.next(), chars.next())
        && first.is_ascii_alphabetic()
    {
        return Err(Refusal::DriveLetter);
    }
    // On Windows a colon also opens alternate data streams (`file.txt:stream`).
    if cfg!(windows) && segment.contains(':') {
        return Err(Refusal::DriveLetter);
    }
    let mut components = Path::new(&segment).components();
    match (components.next(), components.next()) {
        (Some(Component::Normal(_)), None) => Ok(segment),
        _ => Err(Refusal::NotAName),
    }
}

fn percent_decode(raw: &str) -> Result<Vec<u8>, Refusal> {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hi = bytes.next().and_then(hex).ok_or(Refusal::BadEscape)?;
            let lo = bytes.next().and_then(hex).ok_or(Refusal::BadEscape)?;
            out.push(hi << 4 | lo);
        } else {
            out.push(b);
        }
    }
    Ok(out)
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode_segment(segment: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
}

/// What a path is once confined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Dir,
    /// Absent, outside the folder (symlink refused), or not a regular file or directory.
    Missing,
}

/// The filesystem as seen through the folder: paths are canonicalized and refused (as "not
/// found") when they lead outside it. Also the [`Backend`] given to [`ServeDir`], so the files
/// it opens itself (precompressed siblings) pass the same check.
#[derive(Debug, Clone)]
struct Confined {
    /// Canonical folder.
    root: Arc<Path>,
    follow_symlinks: bool,
}

impl Confined {
    async fn resolve(&self, path: &Path) -> io::Result<PathBuf> {
        let real = tokio::fs::canonicalize(path).await?;
        if self.follow_symlinks || real.starts_with(&*self.root) {
            Ok(real)
        } else {
            Err(io::Error::new(
                io::ErrorKind::NotFound,
                "symbolic link leads outside the static folder",
            ))
        }
    }

    async fn classify(&self, path: &Path) -> io::Result<Kind> {
        let found = match self.resolve(path).await {
            Ok(real) => tokio::fs::metadata(real).await,
            Err(err) => Err(err),
        };
        match found {
            Ok(meta) if meta.is_dir() => Ok(Kind::Dir),
            Ok(meta) if meta.is_file() => Ok(Kind::File),
            Ok(_) => Ok(Kind::Missing),
            Err(err) if is_missing(&err) => Ok(Kind::Missing),
            Err(err) => Err(err),
        }
    }
}

fn is_missing(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory | io::ErrorKind::InvalidFilename
    )
}

impl Backend for Confined {
    type File = TokioFile;
    type Metadata = std::fs::Metadata;
    type OpenFuture = BoxFuture<'static, io::Result<TokioFile>>;
    type MetadataFuture = BoxFuture<'static, io::Result<std::fs::Metadata>>;

    fn open(&self, path: PathBuf) -> Self::OpenFuture {
        let this = self.clone();
        Box::pin(async move {
            let real = this.resolve(&path).await?;
            // Opening a FIFO would block until a writer shows up.
            if !tokio::fs::metadata(&real).await?.is_file() {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    "not a regular file",
                ));
            }
            TokioBackend.open(real).await
        })
    }

    fn metadata(&self, path: PathBuf) -> Self::MetadataFuture {
        let this = self.clone();
        Box::pin(async move { tokio::fs::metadata(this.resolve(&path).await?).await })
    }
}

/// One request's view of the folder.
struct Site<'a> {
    fs: Confined,
    opts: &'a StaticOptions,
    head: bool,
}

impl Site<'_> {
    async fn answer<B>(&self, req: &Request<B>, rel: &RelPath) -> Response<ProxyBody> {
        let target = rel.join_onto(&self.fs.root);
        let kind = match self.fs.classify(&target).await {
            Ok(kind) => kind,
            Err(err) => return self.io_error(rel, &err),
        };
        match kind {
            // `/file.txt/` names a directory that is not one.
            Kind::File if rel.trailing_slash => self.not_found(rel, Absent::Nothing),
            Kind::File => self.serve_file(req, rel.encoded(), rel).await,
            Kind::Dir => {
                let has_index = match self.fs.classify(&target.join("index.html")).await {
                    Ok(kind) => kind == Kind::File,
                    Err(err) => return self.io_error(rel, &err),
                };
                if !has_index && !self.opts.listing {
                    // Nothing to show for the directory itself: it is a missing page, which
                    // an SPA may route.
                    return self.missing(req, rel, Absent::DirWithoutIndex).await;
                }
                if !rel.trailing_slash
                    && let Some(location) = slash_redirect(req.uri(), rel)
                {
                    return redirect(&location);
                }
                if has_index {
                    let mut index = rel.encoded();
                    if !index.ends_with('/') {
                        index.push('/');
                    }
                    index.push_str("index.html");
                    self.serve_file(req, index, rel).await
                } else {
                    self.listing(&target, rel).await
                }
            }
            Kind::Missing => self.missing(req, rel, Absent::Nothing).await,
        }
    }

    /// A path that matches nothing: the SPA's `index.html` when the rules say so, else 404.
    async fn missing<B>(
        &self,
        req: &Request<B>,
        rel: &RelPath,
        absent: Absent,
    ) -> Response<ProxyBody> {
        if !self.opts.spa || !(rel.looks_like_a_page() || accepts_html(req.headers())) {
            return self.not_found(rel, absent);
        }
        match self.fs.classify(&self.fs.root.join("index.html")).await {
            Ok(Kind::File) => self.serve_file(req, "/index.html".into(), rel).await,
            Ok(_) => self.not_found(rel, absent),
            Err(err) => self.io_error(rel, &err),
        }
    }

    /// Hands one file, named by an already-checked and re-encoded path, to [`ServeDir`]:
    /// ranges, conditional requests and precompressed siblings are its work.
    async fn serve_file<B>(
        &self,
        req: &Request<B>,
        encoded: String,
        rel: &RelPath,
    ) -> Response<ProxyBody> {
        let uri = match req.uri().query() {
            Some(query) => format!("{encoded}?{query}"),
            None => encoded,
        };
        let Ok(uri) = Uri::try_from(uri) else {
            // Unreachable in practice: the path is unreserved characters and escapes, the
            // query came from a parsed URI.
            return text(
                StatusCode::BAD_REQUEST,
                "400 bad request: the query cannot be kept\n".into(),
                self.head,
            );
        };
        let mut inner = Request::new(Empty::<Bytes>::new());
        *inner.method_mut() = req.method().clone();
        *inner.uri_mut() = uri;
        *inner.version_mut() = req.version();
        *inner.headers_mut() = req.headers().clone();

        // Directories never reach ServeDir (handled above), so its own index and redirect
        // logic stays off: it only ever serves one regular file.
        let mut files = ServeDir::with_backend(&*self.fs.root, self.fs.clone())
            .append_index_html_on_directories(false)
            .redirect_to_trailing_slash(false)
            .precompressed_br()
            .precompressed_gzip();
        match files.try_call(inner).await {
            // The file vanished between the check and the open, or a refused symlink.
            Ok(res) if res.status() == StatusCode::NOT_FOUND => {
                self.not_found(rel, Absent::Nothing)
            }
            Ok(res) => {
                let (mut parts, body) = res.into_parts();
                if parts.status.is_success() {
                    add_charset(&mut parts.headers);
                }
                let body = SyncBody(Mutex::new(body)).map_err(BoxError::from).boxed();
                Response::from_parts(parts, body)
            }
            Err(err) if is_missing(&err) => self.not_found(rel, Absent::Nothing),
            Err(err) => self.io_error(rel, &err),
        }
    }

    async fn listing(&self, dir: &Path, rel: &RelPath) -> Response<ProxyBody> {
        let mut entries = match self.read_entries(dir).await {
            Ok(entries) => entries,
            Err(err) => return self.io_error(rel, &err),
        };
        entries.sort_by(|a, b| {
            b.is_dir
                .cmp(&a.is_dir)
                .then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
                .then_with(|| a.name.cmp(&b.name))
        });
        let title = escape_html(&rel.display());
        let mut page = format!(
            "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Index of {title}</title>\n\
             <style>body{{font:14px system-ui,sans-serif;margin:2em}}\
             td,th{{padding:.15em 1.5em .15em 0;text-align:left}}td.size{{text-align:right}}</style>\n\
             </head><body><h1>Index of {title}</h1>\n<table>\n\
             <tr><th>Name</th><th>Size</th><th>Modified</th></tr>\n"
        );
        if !rel.segments.is_empty() {
            page.push_str("<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n");
        }
        for entry in &entries {
            let mut href = String::from("./");
            encode_segment(&entry.name, &mut href);
            let (slash, size) = if entry.is_dir {
                href.push('/');
                ("/", String::new())
            } else {
                ("", human_size(entry.size))
            };
            let modified = entry.modified.and_then(format_time).unwrap_or_default();
            let _ = writeln!(
                page,
                "<tr><td><a href=\"{}\">{}{slash}</a></td><td class=\"size\">{size}</td><td>{modified}</td></tr>",
                escape_html(&href),
                escape_html(&entry.name),
            );
        }
        page.push_str("</table>\n</body></html>\n");
        let mut res = response(
            StatusCode::OK,
            "text/html; charset=utf-8",
            page.into(),
            self.head,
        );
        res.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        res
    }

    /// The entries worth listing: UTF-8 names (others could not be requested), not broken
    /// symlinks, not symlinks leading outside unless allowed.
    async fn read_entries(&self, dir: &Path) -> io::Result<Vec<Entry>> {
        let mut read = tokio::fs::read_dir(dir).await?;
        let mut entries = Vec::new();
        while let Some(entry) = read.next_entry().await? {
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let path = entry.path();
            let Ok(real) = self.fs.resolve(&path).await else {
                continue;
            };
            let Ok(meta) = tokio::fs::metadata(&real).await else {
                continue;
            };
            entries.push(Entry {
                name,
                is_dir: meta.is_dir(),
                size: meta.len(),
                modified: meta.modified().ok(),
            });
        }
        Ok(entries)
    }

    fn not_found(&self, rel: &RelPath, absent: Absent) -> Response<ProxyBody> {
        let path = rel.display();
        let dir = self.opts.dir.display();
        let body = match absent {
            Absent::Nothing => format!("404 not found: {path} is not in the static folder {dir}\n"),
            Absent::DirWithoutIndex => format!(
                "404 not found: {path} is a directory without index.html in the static folder \
                 {dir}, and the route does not list directories\n"
            ),
        };
        text(StatusCode::NOT_FOUND, body, self.head)
    }

    fn io_error(&self, rel: &RelPath, err: &io::Error) -> Response<ProxyBody> {
        let status = if err.kind() == io::ErrorKind::PermissionDenied {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        };
        text(
            status,
            format!(
                "{} cannot read {} in the static folder {}: {err}\n",
                status.as_u16(),
                rel.display(),
                self.opts.dir.display()
            ),
            self.head,
        )
    }
}

/// Why a path gets a 404, for its message.
#[derive(Debug, Clone, Copy)]
enum Absent {
    /// No file (or one refused: outside the folder, not a regular file).
    Nothing,
    /// A directory with no `index.html`, and listings are off.
    DirWithoutIndex,
}

struct Entry {
    name: String,
    is_dir: bool,
    size: u64,
    modified: Option<SystemTime>,
}

/// The relative `Location` that adds the missing slash to a directory URL: `./name/` resolves
/// against `.../name` whatever prefix precedes it, so the stripped route prefix is not needed.
/// `None` when there is no last segment to repeat (the request was already `/`).
fn slash_redirect(uri: &Uri, rel: &RelPath) -> Option<String> {
    let mut location = String::from("./");
    if let Some(last) = rel.segments.last() {
        encode_segment(last, &mut location);
    } else {
        // An empty `path`: the request named the route's prefix itself.
        let last = uri.path().rsplit('/').next().filter(|s| !s.is_empty())?;
        location.push_str(last);
    }
    location.push('/');
    if let Some(query) = uri.query() {
        location.push('?');
        location.push_str(query);
    }
    Some(location)
}

fn accepts_html(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT).iter().any(|value| {
        value
            .to_str()
            .is_ok_and(|v| v.to_ascii_lowercase().contains("text/html"))
    })
}

/// ServeDir guesses types with `mime_guess`, which has no charset and still calls `.mjs`
/// `application/javascript`; browsers want `text/javascript` (RFC 9239) and a charset on text.
fn add_charset(headers: &mut HeaderMap) {
    let Some(current) = headers.get(header::CONTENT_TYPE) else {
        return;
    };
    let Ok(current) = current.to_str() else {
        return;
    };
    if current.contains(';') {
        return;
    }
    let essence = match current {
        "application/javascript" | "application/x-javascript" => "text/javascript",
        other => other,
    };
    let textual = essence.starts_with("text/")
        || matches!(
            essence,
            "application/json"
                | "application/manifest+json"
                | "application/ld+json"
                | "application/xml"
                | "image/svg+xml"
        );
    let value = if textual {
        format!("{essence}; charset=utf-8")
    } else {
        essence.to_owned()
    };
    if let Ok(value) = HeaderValue::try_from(value) {
        headers.insert(header::CONTENT_TYPE, value);
    }
}

fn redirect(location: &str) -> Response<ProxyBody> {
    let mut res = response(
        StatusCode::TEMPORARY_REDIRECT,
        "text/plain; charset=utf-8",
        Bytes::new(),
        true,
    );
    if let Ok(value) = HeaderValue::try_from(location) {
        res.headers_mut().insert(header::LOCATION, value);
    }
    res
}

fn text(status: StatusCode, body: String, head: bool) -> Response<ProxyBody> {
    response(status, "text/plain; charset=utf-8", body.into(), head)
}

/// A response Portico writes itself; for HEAD, the same headers and no body.
fn response(
    status: StatusCode,
    content_type: &'static str,
    body: Bytes,
    head: bool,
) -> Response<ProxyBody> {
    let len = body.len();
    let body = if head {
        Empty::new().map_err(|never| match never {}).boxed()
    } else {
        Full::new(body).map_err(|never| match never {}).boxed()
    };
    let mut res = Response::new(body);
    *res.status_mut() = status;
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    // Display only: the precision lost converting to f64 is far below one decimal.
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

fn format_time(time: SystemTime) -> Option<String> {
    let secs = i64::try_from(time.duration_since(UNIX_EPOCH).ok()?.as_secs()).ok()?;
    let t = time::OffsetDateTime::from_unix_timestamp(secs).ok()?;
    Some(format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    ))
}

/// [`ServeDir`]'s body is `Send` but not `Sync`, and [`ProxyBody`] needs both. The mutex is
/// never contended: polling has `&mut self`, only the size queries lock.
struct SyncBody(Mutex<ServeFileSystemResponseBody>);

impl Body for SyncBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let inner = self
            .get_mut()
            .0
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        Pin::new(inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use bytes::Bytes;
    use http::header::{self, HeaderMap};
    use http::{Method, Request, StatusCode};
    use http_body_util::BodyExt;
    use tempfile::TempDir;

    use super::{Error, Refusal, RelPath, StaticOptions, serve};

    const SECRET: &str = "TOP-SECRET-OUTSIDE-THE-FOLDER";

    /// A temp dir holding `secret.txt` (outside) and `site/` (the folder served).
    struct Fixture {
        outer: TempDir,
    }

    impl Fixture {
        fn new() -> Self {
            let outer = tempfile::tempdir().expect("temp dir");
            let fx = Self { outer };
            fx.write_outside("secret.txt", SECRET);
            for (name, body) in [
                ("index.html", "<h1>home</h1>"),
                ("sub/index.html", "<h1>sub</h1>"),
                ("hello.txt", "0123456789"),
                ("app.js", "console.log(1)"),
                ("mod.mjs", "export {}"),
                ("app.wasm", "\0asm"),
                ("logo.svg", "<svg/>"),
                ("data.json", "{}"),
                ("style.css", "body{}"),
                ("page.html", "<p>page</p>"),
                ("pic.png", "png"),
                ("packed.css", "PLAIN-CSS"),
                ("packed.css.br", "BROTLI-BYTES"),
                ("packed.css.gz", "GZIP-BYTES"),
                ("nodex/b.txt", "b"),
                ("nodex/A-dir/c.txt", "c"),
                ("nodex/.hidden", "h"),
                ("nodex/<script>&.txt", "x"),
            ] {
                fx.write(name, body);
            }
            fx
        }

        fn root(&self) -> PathBuf {
            self.outer.path().join("site")
        }

        fn secret(&self) -> PathBuf {
            self.outer.path().join("secret.txt")
        }

        fn write(&self, rel: &str, body: &str) {
            let path = self.root().join(rel);
            std::fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
            std::fs::write(path, body).expect("write");
        }

        fn write_outside(&self, rel: &str, body: &str) {
            std::fs::write(self.outer.path().join(rel), body).expect("write");
        }

        fn opts(&self) -> StaticOptions {
            StaticOptions::new(self.root())
        }
    }

    struct Answer {
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
    }

    impl Answer {
        fn header(&self, name: header::HeaderName) -> &str {
            self.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
        }

        fn text(&self) -> String {
            String::from_utf8_lossy(&self.body).into_owned()
        }
    }

    fn request(method: Method, uri: &str, headers: &[(&str, &str)]) -> Request<()> {
        let mut builder = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).expect("valid test request")
    }

    async fn call_with(req: Request<()>, path: &str, opts: &StaticOptions) -> Answer {
        let res = serve(&req, path, opts).await.expect("folder is servable");
        let (parts, body) = res.into_parts();
        let body = body.collect().await.expect("body reads").to_bytes();
        Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    async fn get(path: &str, opts: &StaticOptions) -> Answer {
        call_with(request(Method::GET, path, &[]), path, opts).await
    }

    async fn get_with(path: &str, headers: &[(&str, &str)], opts: &StaticOptions) -> Answer {
        call_with(request(Method::GET, path, headers), path, opts).await
    }

    #[tokio::test]
    async fn root_and_subdirectory_answer_their_index_html() {
        let fx = Fixture::new();
        let root = get("/", &fx.opts()).await;
        assert_eq!(root.status, StatusCode::OK);
        assert_eq!(root.text(), "<h1>home</h1>");
        assert_eq!(
            root.header(header::CONTENT_TYPE),
            "text/html; charset=utf-8"
        );
        let sub = get("/sub/", &fx.opts()).await;
        assert_eq!(sub.status, StatusCode::OK);
        assert_eq!(sub.text(), "<h1>sub</h1>");
    }

    #[tokio::test]
    async fn directory_without_slash_redirects_relative_so_a_stripped_prefix_survives() {
        let fx = Fixture::new();
        let resolve = |req_uri: &str, location: &str| {
            url::Url::parse(&format!("http://app.localhost{req_uri}"))
                .and_then(|base| base.join(location))
                .expect("location resolves")
                .to_string()
        };

        // No prefix.
        let res = call_with(request(Method::GET, "/sub?x=1", &[]), "/sub", &fx.opts()).await;
        assert_eq!(res.status, StatusCode::TEMPORARY_REDIRECT);
        let location = res.header(header::LOCATION);
        assert_eq!(location, "./sub/?x=1");
        assert_eq!(
            resolve("/sub?x=1", location),
            "http://app.localhost/sub/?x=1"
        );

        // The route is on `/app`; the proxy passes `/sub`.
        let res = call_with(request(Method::GET, "/app/sub", &[]), "/sub", &fx.opts()).await;
        assert_eq!(res.status, StatusCode::TEMPORARY_REDIRECT);
        assert_eq!(
            resolve("/app/sub", res.header(header::LOCATION)),
            "http://app.localhost/app/sub/"
        );

        // The request names the prefix itself: `/app` → `/app/`.
        let res = call_with(request(Method::GET, "/app", &[]), "", &fx.opts()).await;
        assert_eq!(res.status, StatusCode::TEMPORARY_REDIRECT);
        assert_eq!(
            resolve("/app", res.header(header::LOCATION)),
            "http://app.localhost/app/"
        );

        // Without any prefix an empty path is the root.
        let res = call_with(request(Method::GET, "/", &[]), "", &fx.opts()).await;
        assert_eq!(res.status, StatusCode::OK);
        assert_eq!(res.text(), "<h1>home</h1>");
    }

    #[tokio::test]
    async fn content_types_follow_the_extension_with_a_charset_on_text() {
        let fx = Fixture::new();
        for (path, expected) in [
            ("/app.js", "text/javascript; charset=utf-8"),
            ("/mod.mjs", "text/javascript; charset=utf-8"),
            ("/app.wasm", "application/wasm"),
            ("/logo.svg", "image/svg+xml; charset=utf-8"),
            ("/data.json", "application/json; charset=utf-8"),
            ("/style.css", "text/css; charset=utf-8"),
            ("/page.html", "text/html; charset=utf-8"),
            ("/hello.txt", "text/plain; charset=utf-8"),
            ("/pic.png", "image/png"),
        ] {
            let res = get(path, &fx.opts()).await;
            assert_eq!(res.status, StatusCode::OK, "{path}");
            assert_eq!(res.header(header::CONTENT_TYPE), expected, "{path}");
        }
    }

    #[tokio::test]
    async fn byte_range_answers_206_with_exactly_those_bytes() {
        let fx = Fixture::new();
        let res = get_with("/hello.txt", &[("range", "bytes=2-5")], &fx.opts()).await;
        assert_eq!(res.status, StatusCode::PARTIAL_CONTENT);
        assert_eq!(res.header(header::CONTENT_RANGE), "bytes 2-5/10");
        assert_eq!(res.header(header::CONTENT_LENGTH), "4");
        assert_eq!(&res.body[..], b"2345");
    }

    #[tokio::test]
    async fn conditional_requests_answer_304() {
        let fx = Fixture::new();
        let first = get("/hello.txt", &fx.opts()).await;
        let etag = first.header(header::ETAG).to_owned();
        let last_modified = first.header(header::LAST_MODIFIED).to_owned();
        assert!(!etag.is_empty() && !last_modified.is_empty());

        let res = get_with("/hello.txt", &[("if-none-match", &etag)], &fx.opts()).await;
        assert_eq!(res.status, StatusCode::NOT_MODIFIED);
        assert!(res.body.is_empty());

        let res = get_with(
            "/hello.txt",
            &[("if-modified-since", &last_modified)],
            &fx.opts(),
        )
        .await;
        assert_eq!(res.status, StatusCode::NOT_MODIFIED);
    }

    #[tokio::test]
    async fn precompressed_sibling_is_served_only_when_accepted() {
        let fx = Fixture::new();
        let br = get_with(
            "/packed.css",
            &[("accept-encoding", "gzip, br")],
            &fx.opts(),
        )
        .await;
        assert_eq!(br.status, StatusCode::OK);
        assert_eq!(br.header(header::CONTENT_ENCODING), "br");
        assert_eq!(br.header(header::CONTENT_TYPE), "text/css; charset=utf-8");
        assert_eq!(br.text(), "BROTLI-BYTES");

        let gz = get_with("/packed.css", &[("accept-encoding", "gzip")], &fx.opts()).await;
        assert_eq!(gz.header(header::CONTENT_ENCODING), "gzip");
        assert_eq!(gz.text(), "GZIP-BYTES");

        let plain = get("/packed.css", &fx.opts()).await;
        assert_eq!(plain.status, StatusCode::OK);
        assert_eq!(plain.header(header::CONTENT_ENCODING), "");
        assert_eq!(plain.text(), "PLAIN-CSS");
    }

    #[tokio::test]
    async fn spa_fallback_answers_index_for_pages_but_not_for_assets() {
        let fx = Fixture::new();
        let spa = StaticOptions {
            spa: true,
            ..fx.opts()
        };
        let page = get("/users/42", &spa).await;
        assert_eq!(page.status, StatusCode::OK);
        assert_eq!(page.text(), "<h1>home</h1>");
        assert_eq!(
            page.header(header::CONTENT_TYPE),
            "text/html; charset=utf-8"
        );

        let asset = get("/assets/missing.js", &spa).await;
        assert_eq!(asset.status, StatusCode::NOT_FOUND);

        let navigation = get_with(
            "/blog/post.v2",
            &[("accept", "text/html,application/xhtml+xml,*/*;q=0.8")],
            &spa,
        )
        .await;
        assert_eq!(navigation.status, StatusCode::OK);
        assert_eq!(navigation.text(), "<h1>home</h1>");

        // A directory with nothing to show is a page like any other.
        let dir = get("/nodex/", &spa).await;
        assert_eq!(dir.text(), "<h1>home</h1>");

        // Real files still win.
        assert_eq!(get("/hello.txt", &spa).await.text(), "0123456789");
    }

    #[tokio::test]
    async fn without_spa_missing_paths_are_404_naming_the_folder() {
        let fx = Fixture::new();
        let res = get("/users/42", &fx.opts()).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);
        assert!(res.text().contains("/users/42"));
        assert!(res.text().contains(&fx.root().display().to_string()));
        assert_eq!(
            get("/hello.txt/", &fx.opts()).await.status,
            StatusCode::NOT_FOUND
        );
    }

    #[tokio::test]
    async fn listing_shows_directories_first_and_escapes_names() {
        let fx = Fixture::new();
        let listing = StaticOptions {
            listing: true,
            ..fx.opts()
        };
        let res = get("/nodex/", &listing).await;
        assert_eq!(res.status, StatusCode::OK);
        assert_eq!(res.header(header::CONTENT_TYPE), "text/html; charset=utf-8");
        assert_eq!(res.header(header::CACHE_CONTROL), "no-cache");
        let html = res.text();
        assert!(html.contains("href=\"../\""));
        assert!(html.contains("href=\"./b.txt\""));
        assert!(html.contains(".hidden"), "dot files are listed");
        assert!(html.contains("&lt;script&gt;&amp;.txt"));
        assert!(html.contains("href=\"./%3Cscript%3E%26.txt\""));
        assert!(!html.contains("<script>"));
        let dir_at = html.find("A-dir/").expect("directory listed");
        let file_at = html.find("b.txt").expect("file listed");
        assert!(dir_at < file_at, "directories come first");

        // A directory listed without its slash is redirected first so relative links work.
        let res = get("/nodex", &listing).await;
        assert_eq!(res.status, StatusCode::TEMPORARY_REDIRECT);

        // Off: the same directory is a 404 that says why.
        let off = get("/nodex/", &fx.opts()).await;
        assert_eq!(off.status, StatusCode::NOT_FOUND);
        assert!(off.text().contains("without index.html"), "{}", off.text());
    }

    #[tokio::test]
    async fn listing_of_the_root_has_no_parent_link() {
        let fx = Fixture::new();
        let opts = StaticOptions {
            dir: fx.root().join("nodex"),
            listing: true,
            ..fx.opts()
        };
        let res = get("/", &opts).await;
        assert_eq!(res.status, StatusCode::OK);
        assert!(!res.text().contains("href=\"../\""));
    }

    /// Every refused path: not 2xx, and the secret next to the folder never appears.
    #[tokio::test]
    async fn traversal_attempts_never_serve_a_file_outside_the_folder() {
        let fx = Fixture::new();
        let secret_abs = fx.secret().display().to_string();
        let opts = StaticOptions {
            spa: true,
            listing: true,
            ..fx.opts()
        };
        let attempts = [
            "/../secret.txt".to_owned(),
            "/sub/../../secret.txt".to_owned(),
            "/%2e%2e/secret.txt".to_owned(),
            "/%2E%2e/secret.txt".to_owned(),
            "/.%2e/secret.txt".to_owned(),
            "/%2e%2e%2fsecret.txt".to_owned(),
            "/..%2Fsecret.txt".to_owned(),
            "/sub%2f..%2f..%2fsecret.txt".to_owned(),
            "/..\\secret.txt".to_owned(),
            "/..%5csecret.txt".to_owned(),
            "/%5C..%5Csecret.txt".to_owned(),
            "/hello.txt%00".to_owned(),
            "/hello.txt\0".to_owned(),
            "/%0a".to_owned(),
            "/a%7fb".to_owned(),
            "/%zz".to_owned(),
            "/%2".to_owned(),
            "/%ff%fe".to_owned(),
            "//etc/passwd".to_owned(),
            format!("/{secret_abs}"),
            format!("/{}", secret_abs.replace('/', "%2f")),
            "/C:/Windows/win.ini".to_owned(),
            "/c:%5cwindows%5cwin.ini".to_owned(),
            "/./hello.txt".to_owned(),
        ];
        for path in &attempts {
            let res = call_with(request(Method::GET, "/x", &[]), path, &opts).await;
            assert!(
                !res.status.is_success() && !res.status.is_redirection(),
                "{path:?} answered {}",
                res.status
            );
            assert!(!res.text().contains(SECRET), "{path:?} leaked the secret");
        }
        // Double encoding decodes once: a literal file name, which does not exist.
        let res = get("/%252e%252e/secret.txt", &fx.opts()).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);
    }

    #[test]
    fn path_parsing_refuses_each_kind_of_attempt_for_its_own_reason() {
        for (path, refusal) in [
            ("/%2e%2E/x", Refusal::DotSegment),
            ("/a%2Fb", Refusal::EncodedSlash),
            ("/a%5cb", Refusal::Backslash),
            ("/a%00", Refusal::ControlByte),
            ("//etc/passwd", Refusal::EmptySegment),
            ("/a//b", Refusal::EmptySegment),
            ("/C:/", Refusal::DriveLetter),
            ("/%4", Refusal::BadEscape),
            ("/%c3%28", Refusal::NotUtf8),
        ] {
            assert_eq!(RelPath::parse(path), Err(refusal), "{path}");
        }
        let ok = RelPath::parse("/a%20b/caf%C3%A9/").expect("valid path");
        assert_eq!(ok.segments, ["a b", "café"]);
        assert!(ok.trailing_slash);
        assert_eq!(ok.encoded(), "/a%20b/caf%C3%A9/");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn symlinks_inside_are_served_and_outside_are_refused_unless_followed() {
        use std::os::unix::fs::symlink;

        let fx = Fixture::new();
        let root = fx.root();
        symlink(root.join("hello.txt"), root.join("inside.txt")).expect("symlink");
        symlink(fx.secret(), root.join("leak.txt")).expect("symlink");
        symlink(fx.outer.path(), root.join("leakdir")).expect("symlink");
        std::fs::create_dir(root.join("evil")).expect("mkdir");
        symlink(fx.secret(), root.join("evil/index.html")).expect("symlink");
        fx.write("sneaky.txt", "PLAIN");
        symlink(fx.secret(), root.join("sneaky.txt.br")).expect("symlink");

        let opts = StaticOptions {
            listing: true,
            ..fx.opts()
        };
        let inside = get("/inside.txt", &opts).await;
        assert_eq!(inside.status, StatusCode::OK);
        assert_eq!(inside.text(), "0123456789");

        for path in ["/leak.txt", "/leakdir/secret.txt", "/evil/index.html"] {
            let res = get(path, &opts).await;
            assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}");
            assert!(!res.text().contains(SECRET), "{path} leaked the secret");
        }
        // An index.html leading outside does not count: the directory is listed instead.
        let evil = get("/evil/", &opts).await;
        assert!(!evil.text().contains(SECRET));
        assert!(evil.text().contains("Index of /evil/") && !evil.text().contains("index.html"));
        let head = call_with(request(Method::HEAD, "/leak.txt", &[]), "/leak.txt", &opts).await;
        assert_eq!(head.status, StatusCode::NOT_FOUND);

        // A precompressed sibling leading outside is skipped: the plain file is served.
        let res = get_with("/sneaky.txt", &[("accept-encoding", "br")], &opts).await;
        assert_eq!(res.status, StatusCode::OK);
        assert_eq!(res.header(header::CONTENT_ENCODING), "");
        assert_eq!(res.text(), "PLAIN");

        // Listings omit what they could not serve.
        std::fs::create_dir(root.join("links")).expect("mkdir");
        symlink(root.join("hello.txt"), root.join("links/inside.txt")).expect("symlink");
        symlink(fx.secret(), root.join("links/leak.txt")).expect("symlink");
        symlink(fx.outer.path(), root.join("links/leakdir")).expect("symlink");
        let listing = get("/links/", &opts).await.text();
        assert!(listing.contains("inside.txt"));
        assert!(!listing.contains("leak.txt") && !listing.contains("leakdir"));

        let follow = StaticOptions {
            follow_symlinks: true,
            ..opts
        };
        let res = get("/leak.txt", &follow).await;
        assert_eq!(res.status, StatusCode::OK);
        assert_eq!(res.text(), SECRET);
        let listing = get("/links/", &follow).await.text();
        assert!(listing.contains("leak.txt") && listing.contains("leakdir/"));
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn spa_index_leading_outside_is_refused() {
        use std::os::unix::fs::symlink;

        let fx = Fixture::new();
        let dir = fx.outer.path().join("spa");
        std::fs::create_dir(&dir).expect("mkdir");
        symlink(fx.secret(), dir.join("index.html")).expect("symlink");
        let opts = StaticOptions {
            spa: true,
            ..StaticOptions::new(&dir)
        };
        for path in ["/", "/users/42"] {
            let res = get(path, &opts).await;
            assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}");
            assert!(!res.text().contains(SECRET));
        }
    }

    #[tokio::test]
    async fn head_answers_headers_without_a_body() {
        let fx = Fixture::new();
        let res = call_with(
            request(Method::HEAD, "/hello.txt", &[]),
            "/hello.txt",
            &fx.opts(),
        )
        .await;
        assert_eq!(res.status, StatusCode::OK);
        assert_eq!(res.header(header::CONTENT_LENGTH), "10");
        assert!(res.body.is_empty());
    }

    #[tokio::test]
    async fn other_methods_get_405_with_allow() {
        let fx = Fixture::new();
        let res = call_with(
            request(Method::POST, "/hello.txt", &[]),
            "/hello.txt",
            &fx.opts(),
        )
        .await;
        assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(res.header(header::ALLOW), "GET, HEAD");
    }

    #[tokio::test]
    async fn unusable_folder_is_an_error_not_a_response() {
        let fx = Fixture::new();
        let req = request(Method::GET, "/", &[]);
        let missing = StaticOptions::new(fx.outer.path().join("nope"));
        let err = serve(&req, "/", &missing)
            .await
            .expect_err("missing folder");
        assert!(matches!(err, Error::Missing { .. }), "{err:?}");
        assert!(err.to_string().contains("create it or change the route"));
        assert_eq!(err.dir(), missing.dir);

        let file = StaticOptions::new(fx.secret());
        let err = serve(&req, "/", &file).await.expect_err("file as folder");
        assert!(matches!(err, Error::NotADirectory { .. }), "{err:?}");

        let relative = StaticOptions::new(Path::new("site"));
        let err = serve(&req, "/", &relative)
            .await
            .expect_err("relative folder");
        assert!(matches!(err, Error::NotAbsolute { .. }), "{err:?}");
    }
}
