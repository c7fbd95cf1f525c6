//! Response compression: negotiating a content coding from `Accept-Encoding`, deciding whether
//! a finished response may be transformed at all, and compressing its body as it streams.
//!
//! It owns only the transformation of one response; it does not decide which routes compress
//! (the proxy asks it per response) and it never buffers a whole body: memory stays bounded by the
//! encoder's state plus one chunk.
//!
//! The encoders are the synchronous `Write` encoders of `flate2`, `brotli` and `zstd`, writing
//! into a `Vec<u8>` that [`CompressBody`] drains after every chunk. `async-compression` would
//! need `AsyncRead` adapters around the body, which drop trailers and decide on their own when to
//! flush; driving the encoders by hand keeps trailers and lets the body flush exactly when the
//! upstream goes idle, so a slowly streamed page is never held back.

use std::io::{self, Write};
use std::mem;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{
    ACCEPT_ENCODING, ACCEPT_RANGES, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_RANGE,
    CONTENT_TYPE, ETAG, VARY,
};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::BoxBody;
use pin_project_lite::pin_project;

use crate::proxy::{BoxError, ProxyBody};

/// gzip level 1, as nginx's default `gzip_comp_level 1`. Measured with flate2's Rust backend on
/// 10 MB of JSON and 2 MB of HTML: level 1 runs at ~675 / ~350 MB/s for 12.9% / 22.5% of the
/// input, level 5 at ~120 / ~70 MB/s for 10.1% / 15.4%. Five times the CPU for a few percent
/// fewer bytes does not pay on a local network.
const GZIP_LEVEL: u32 = 1;

/// Brotli quality 4: ~60-75 MB/s on the same data, for 10.2% / 18.8%; quality 11 is far too
/// slow for a proxy compressing on the fly.
const BROTLI_QUALITY: u32 = 4;

/// Brotli window of 2^22 bytes (4 MiB), the encoder's default.
const BROTLI_LG_WINDOW: u32 = 22;

/// Size of the brotli encoder's output staging buffer.
const BROTLI_BUFFER_BYTES: usize = 8 * 1024;

/// zstd level 3, the library default: ~535 / ~440 MB/s on the same data, for 9.8% / 16.4%, and
/// its 2 MiB window stays under the 8 MiB that RFC 9659 lets HTTP decoders insist on.
const ZSTD_LEVEL: i32 = 3;

/// Capacity of a fresh output buffer once the previous one has been handed to the client.
const OUTPUT_CAPACITY: usize = 8 * 1024;

/// Media types never compressed: already compressed formats, and streams where compression
/// would delay events or break a protocol's own framing. `image/*` (but SVG), `video/*`,
/// `audio/*` and `application/grpc*` are matched by prefix in [`media_type_compressible`].
const INCOMPRESSIBLE_TYPES: &[&str] = &[
    "font/woff",
    "font/woff2",
    "application/font-woff",
    "application/zip",
    "application/gzip",
    "application/x-gzip",
    "application/zstd",
    "application/x-bzip2",
    "application/x-xz",
    "application/x-7z-compressed",
    "application/x-rar-compressed",
    "application/vnd.rar",
    "application/pdf",
    "application/octet-stream",
    "text/event-stream",
];

/// Settings that apply to every route.
#[derive(Debug, Clone, Copy)]
pub struct CompressOptions {
    /// Bodies whose known length is below this stay as they are. Default: 1024.
    pub min_bytes: u64,
}

impl Default for CompressOptions {
    fn default() -> Self {
        Self { min_bytes: 1024 }
    }
}

/// A content coding Portico can apply, in order of preference at equal quality.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Zstandard (RFC 8878), `zstd`.
    Zstd,
    /// Brotli (RFC 7932), `br`.
    Brotli,
    /// gzip (RFC 1952), `gzip`.
    Gzip,
}

impl Encoding {
    /// Every coding, most preferred first: the tie-break order of [`negotiate`].
    const PREFERENCE: [Encoding; 3] = [Encoding::Zstd, Encoding::Brotli, Encoding::Gzip];

    /// The content-coding token, as sent in `Content-Encoding`.
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Zstd => "zstd",
            Encoding::Brotli => "br",
            Encoding::Gzip => "gzip",
        }
    }
}

/// A failure while compressing a body.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The encoder could not be created, or failed on the data given to it.
    #[error("{} encoder failed: {source}", encoding.as_str())]
    Encoder {
        /// The coding being applied.
        encoding: Encoding,
        /// What the encoder reported.
        source: io::Error,
    },
}

/// Compress `resp` with `accepted` (the client's choice, from [`negotiate`]) for a request
/// with `method`, when the rules allow. Returns the response (changed or not) and the
/// encoding applied, if any.
///
/// A response that could be compressed for some client gets `Vary: Accept-Encoding` even when
/// this client accepts no coding, so that caches keep the variants apart.
pub fn compress(
    method: &Method,
    accepted: Option<Encoding>,
    resp: Response<ProxyBody>,
    opts: &CompressOptions,
) -> (Response<ProxyBody>, Option<Encoding>) {
    if !compressible(method, &resp, opts) {
        return (resp, None);
    }
    let (mut parts, body) = resp.into_parts();
    add_vary_accept_encoding(&mut parts.headers);
    let Some(encoding) = accepted else {
        return (Response::from_parts(parts, body), None);
    };
    let encoder = match Encoder::new(encoding) {
        Ok(encoder) => encoder,
        Err(source) => {
            let error = Error::Encoder { encoding, source };
            tracing::warn!(%error, "sending the response uncompressed");
            return (Response::from_parts(parts, body), None);
        }
    };
    mark_encoded(&mut parts.headers, encoding);
    // HEAD gets the headers a GET would (RFC 9110 §9.3.2), and its empty body as it is.
    if *method == Method::HEAD {
        return (Response::from_parts(parts, body), Some(encoding));
    }
    let body = CompressBody::with_encoder(body, encoding, encoder);
    (
        Response::from_parts(parts, BoxBody::new(body)),
        Some(encoding),
    )
}

/// The coding to apply for a request with these headers (RFC 9110 §12.5.3), or `None` when the
/// request has no `Accept-Encoding` or accepts none of ours.
///
/// Tokens match case-insensitively and `x-gzip` counts as `gzip`; `q=0` refuses a coding; `*`
/// covers codings not listed; the highest quality wins, ties going to zstd, then br, then gzip.
/// A coding listed twice keeps its lowest quality, so a refusal is never overridden.
pub fn negotiate(request_headers: &HeaderMap) -> Option<Encoding> {
    let mut listed = [None::<u16>; 3];
    let mut wildcard = None::<u16>;
    for value in request_headers.get_all(ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else {
            continue;
        };
        for (coding, quality) in value.split(',').filter_map(parse_element) {
            let slot = if coding == "*" {
                &mut wildcard
            } else if let Some(encoding) = encoding_for_token(coding) {
                &mut listed[preference_index(encoding)]
            } else {
                continue;
            };
            *slot = Some(slot.map_or(quality, |q| q.min(quality)));
        }
    }
    let mut best: Option<(Encoding, u16)> = None;
    for encoding in Encoding::PREFERENCE {
        let quality = listed[preference_index(encoding)].or(wildcard).unwrap_or(0);
        if quality > 0 && best.is_none_or(|(_, q)| quality > q) {
            best = Some((encoding, quality));
        }
    }
    best.map(|(encoding, _)| encoding)
}

/// Position of `encoding` in [`Encoding::PREFERENCE`].
fn preference_index(encoding: Encoding) -> usize {
    match encoding {
        Encoding::Zstd => 0,
        Encoding::Brotli => 1,
        Encoding::Gzip => 2,
    }
}

/// The coding named by an `Accept-Encoding` token, if it is one we apply.
fn encoding_for_token(token: &str) -> Option<Encoding> {
    if token.eq_ignore_ascii_case("zstd") {
        Some(Encoding::Zstd)
    } else if token.eq_ignore_ascii_case("br") {
        Some(Encoding::Brotli)
    } else if token.eq_ignore_ascii_case("gzip") || token.eq_ignore_ascii_case("x-gzip") {
        Some(Encoding::Gzip)
    } else {
        None
    }
}

/// One `Accept-Encoding` element, `coding *( OWS ";" OWS name=value )`, as the coding and its
/// quality in thousandths (1000 when no `q` is given). An element with a malformed `q` is
/// dropped, as if it had not been sent.
fn parse_element(element: &str) -> Option<(&str, u16)> {
    let mut pieces = element.split(';');
    let coding = pieces.next()?.trim();
    if coding.is_empty() {
        return None;
    }
    let mut quality = 1000;
    for param in pieces {
        let Some((name, value)) = param.split_once('=') else {
            continue;
        };
        if name.trim().eq_ignore_ascii_case("q") {
            quality = parse_qvalue(value.trim())?;
        }
    }
    Some((coding, quality))
}

/// A qvalue (RFC 9110 §12.4.2): `0[.ddd]` or `1[.000]`, in thousandths.
fn parse_qvalue(text: &str) -> Option<u16> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (mut thousandths, mut scale) = (0_u16, 100_u16);
    for digit in fraction.bytes() {
        thousandths += u16::from(digit - b'0') * scale;
        scale /= 10;
    }
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// Whether the response may be compressed at all, whatever the client accepts.
fn compressible(method: &Method, resp: &Response<ProxyBody>, opts: &CompressOptions) -> bool {
    let headers = resp.headers();
    status_has_full_body(resp.status())
        && !headers.contains_key(CONTENT_RANGE)
        && !already_encoded(headers)
        && !header_has_token(headers, &CACHE_CONTROL, b"no-transform")
        && known_length(method, resp).is_none_or(|len| len >= opts.min_bytes)
        && content_type_compressible(headers)
}

/// Whether a response with this status carries a whole representation worth compressing:
/// 1xx, 204 and 304 have no body, and 206 carries byte ranges of the unencoded form.
fn status_has_full_body(status: StatusCode) -> bool {
    !(status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
        || status == StatusCode::PARTIAL_CONTENT)
}

/// Whether the upstream already applied a content coding other than `identity`.
fn already_encoded(headers: &HeaderMap) -> bool {
    header_tokens(headers, &CONTENT_ENCODING).any(|t| !t.eq_ignore_ascii_case(b"identity"))
}

/// The body's length, from `Content-Length` or else from an exact size hint.
fn known_length(method: &Method, resp: &Response<ProxyBody>) -> Option<u64> {
    let header = resp
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    // A HEAD answer's body is always empty; only its header speaks for the GET's body.
    if *method == Method::HEAD {
        return header;
    }
    header.or_else(|| resp.body().size_hint().exact())
}

/// Whether the `Content-Type` names a media type worth compressing; a missing or unreadable
/// one is not, since we cannot tell what the bytes are.
fn content_type_compressible(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let media_type = value.split(';').next().unwrap_or("").trim();
    !media_type.is_empty() && media_type_compressible(&media_type.to_ascii_lowercase())
}

/// Whether a lowercase media type without parameters is worth compressing.
fn media_type_compressible(media_type: &str) -> bool {
    if let Some(subtype) = media_type.strip_prefix("image/") {
        return subtype == "svg+xml";
    }
    !(media_type.starts_with("video/")
        || media_type.starts_with("audio/")
        || media_type.starts_with("application/grpc")
        || INCOMPRESSIBLE_TYPES.contains(&media_type))
}

/// The non-empty comma-separated elements of every `name` field line, trimmed, as raw bytes
/// (so an odd byte elsewhere in the value does not hide a token).
fn header_tokens<'a>(
    headers: &'a HeaderMap,
    name: &http::header::HeaderName,
) -> impl Iterator<Item = &'a [u8]> {
    headers
        .get_all(name)
        .iter()
        .flat_map(|value| value.as_bytes().split(|b| *b == b','))
        .map(<[u8]>::trim_ascii)
        .filter(|token| !token.is_empty())
}

/// Whether a list header holds `token` as a directive name (ignoring any `=value`).
fn header_has_token(headers: &HeaderMap, name: &http::header::HeaderName, token: &[u8]) -> bool {
    header_tokens(headers, name).any(|element| {
        let directive = element.split(|b| *b == b'=').next().unwrap_or(element);
        directive.trim_ascii().eq_ignore_ascii_case(token)
    })
}

/// Add `Accept-Encoding` to `Vary`, merged into one field line with what is there; a `Vary`
/// that already lists it, or is `*`, is left alone.
fn add_vary_accept_encoding(headers: &mut HeaderMap) {
    let mut merged = Vec::new();
    for token in header_tokens(headers, &VARY) {
        if token == b"*" || token.eq_ignore_ascii_case(b"accept-encoding") {
            return;
        }
        merged.extend_from_slice(token);
        merged.extend_from_slice(b", ");
    }
    merged.extend_from_slice(b"Accept-Encoding");
    // The tokens come from valid field values, so this only fails on a value hyper would not
    // have produced; appending a second field line is the equivalent (RFC 9110 §5.3).
    match HeaderValue::from_bytes(&merged) {
        Ok(value) => {
            headers.insert(VARY, value);
        }
        Err(_) => {
            headers.append(VARY, HeaderValue::from_static("Accept-Encoding"));
        }
    }
}

/// Rewrite the headers of a response whose body is now encoded with `encoding`.
fn mark_encoded(headers: &mut HeaderMap, encoding: Encoding) {
    headers.insert(
        CONTENT_ENCODING,
        HeaderValue::from_static(encoding.as_str()),
    );
    // The encoded length is unknown until the end: the body goes out chunked (or as HTTP/2
    // DATA frames). Byte ranges of a transformed body would not match the upstream's.
    headers.remove(CONTENT_LENGTH);
    headers.remove(ACCEPT_RANGES);
    weaken_etag(headers);
}

/// Turn a strong `ETag` into a weak one: the encoded bytes differ from the upstream's, so they
/// are only semantically equivalent (RFC 9110 §8.8.1). A malformed tag is removed, as nginx
/// does, since it cannot be weakened.
fn weaken_etag(headers: &mut HeaderMap) {
    let Some(etag) = headers.get(ETAG) else {
        return;
    };
    let bytes = etag.as_bytes();
    if bytes.starts_with(b"W/") {
        return;
    }
    let weak = bytes
        .starts_with(b"\"")
        .then(|| HeaderValue::from_bytes(&[b"W/", bytes].concat()).ok())
        .flatten();
    match weak {
        Some(weak) => {
            headers.insert(ETAG, weak);
        }
        None => {
            headers.remove(ETAG);
        }
    }
}

/// A synchronous encoder writing into a buffer that is drained after every operation.
enum Encoder {
    Gzip(flate2::write::GzEncoder<Vec<u8>>),
    // Boxed: the brotli state is several kilobytes, the other variants are small.
    Brotli(Box<brotli::CompressorWriter<Vec<u8>>>),
    Zstd(zstd::stream::write::Encoder<'static, Vec<u8>>),
}

impl Encoder {
    /// A fresh encoder for `encoding`; only zstd's context allocation can fail.
    fn new(encoding: Encoding) -> io::Result<Self> {
        let buffer = Vec::with_capacity(OUTPUT_CAPACITY);
        Ok(match encoding {
            Encoding::Gzip => Encoder::Gzip(flate2::write::GzEncoder::new(
                buffer,
                flate2::Compression::new(GZIP_LEVEL),
            )),
            Encoding::Brotli => Encoder::Brotli(Box::new(brotli::CompressorWriter::new(
                buffer,
                BROTLI_BUFFER_BYTES,
                BROTLI_QUALITY,
                BROTLI_LG_WINDOW,
            ))),
            Encoding::Zstd => Encoder::Zstd(zstd::stream::write::Encoder::new(buffer, ZSTD_LEVEL)?),
        })
    }

    /// Feed `data`; returns whatever compressed bytes are ready (possibly none).
    fn write(&mut self, data: &[u8]) -> io::Result<Bytes> {
        match self {
            Encoder::Gzip(e) => e.write_all(data)?,
            Encoder::Brotli(e) => e.write_all(data)?,
            Encoder::Zstd(e) => e.write_all(data)?,
        }
        Ok(self.take_output())
    }

    /// Sync-flush: everything written so far becomes decodable from the bytes returned.
    fn flush(&mut self) -> io::Result<Bytes> {
        match self {
            Encoder::Gzip(e) => e.flush()?,
            Encoder::Brotli(e) => e.flush()?,
            Encoder::Zstd(e) => e.flush()?,
        }
        Ok(self.take_output())
    }

    /// End the stream; returns the remaining bytes and the format's trailer.
    fn finish(self) -> io::Result<Bytes> {
        let tail = match self {
            Encoder::Gzip(e) => e.finish()?,
            // The brotli writer reports no error from finishing; writing into a `Vec` cannot
            // fail, and its state can only go wrong on misuse, which this type does not allow.
            Encoder::Brotli(e) => e.into_inner(),
            Encoder::Zstd(e) => e.finish()?,
        };
        Ok(Bytes::from(tail))
    }

    /// Hand out the compressed bytes produced so far, leaving a fresh buffer behind. The
    /// encoders only ever append to their writer, so draining it between calls is safe.
    fn take_output(&mut self) -> Bytes {
        let buffer = match self {
            Encoder::Gzip(e) => e.get_mut(),
            Encoder::Brotli(e) => e.get_mut(),
            Encoder::Zstd(e) => e.get_mut(),
        };
        if buffer.is_empty() {
            return Bytes::new();
        }
        Bytes::from(mem::replace(buffer, Vec::with_capacity(OUTPUT_CAPACITY)))
    }
}

/// Where a [`CompressBody`] is in its stream.
enum State {
    /// Feeding the inner body's data to the encoder. `unflushed` is set when input went in
    /// since the last flush, so an idle upstream triggers at most one flush.
    Streaming { encoder: Encoder, unflushed: bool },
    /// The encoded tail has been yielded; the inner body's trailers come next.
    Trailers(HeaderMap),
    /// Nothing more to yield.
    Done,
}

pin_project! {
    /// A body compressed on the fly as the inner body streams.
    ///
    /// Each data frame is fed to the encoder and whatever compressed bytes are ready are
    /// yielded. When the inner body is pending with input not yet emitted, the encoder is
    /// flushed so the client sees everything sent so far. At the end the encoder's tail is
    /// yielded, then the inner body's trailers. Empty data frames are never yielded; the size
    /// is unknown until the end.
    pub struct CompressBody<B> {
        #[pin]
        inner: B,
        encoding: Encoding,
        state: State,
    }
}

impl<B> CompressBody<B> {
    /// Wrap `inner`, compressing it with `encoding`.
    ///
    /// # Errors
    ///
    /// [`Error::Encoder`] when the encoder cannot be created (zstd failing to allocate).
    pub fn new(inner: B, encoding: Encoding) -> Result<Self, Error> {
        let encoder =
            Encoder::new(encoding).map_err(|source| Error::Encoder { encoding, source })?;
        Ok(Self::with_encoder(inner, encoding, encoder))
    }

    /// Wrap `inner` around an encoder already created for `encoding`.
    fn with_encoder(inner: B, encoding: Encoding, encoder: Encoder) -> Self {
        Self {
            inner,
            encoding,
            state: State::Streaming {
                encoder,
                unflushed: false,
            },
        }
    }
}

/// One step of [`CompressBody::poll_frame`].
type Step = Poll<Option<Result<Frame<Bytes>, BoxError>>>;

/// Finish the encoder held in `state` and move on to `trailers`, or to the end; returns the
/// encoded tail.
fn finish(state: &mut State, trailers: Option<HeaderMap>) -> io::Result<Bytes> {
    let next = trailers.map_or(State::Done, State::Trailers);
    match mem::replace(state, next) {
        State::Streaming { encoder, .. } => encoder.finish(),
        State::Trailers(_) | State::Done => Ok(Bytes::new()),
    }
}

/// What follows the encoded tail: the trailers if there are any, then the end.
fn after_tail(state: &mut State) -> Step {
    Poll::Ready(match mem::replace(state, State::Done) {
        State::Trailers(trailers) => Some(Ok(Frame::trailers(trailers))),
        State::Streaming { .. } | State::Done => None,
    })
}

impl<B> Body for CompressBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Step {
        let mut this = self.project();
        loop {
            let State::Streaming { encoder, unflushed } = this.state else {
                return after_tail(this.state);
            };
            let encoded = match this.inner.as_mut().poll_frame(cx) {
                // The upstream is idle: release what it already sent rather than hold it in
                // the encoder until more arrives. The flag makes this once per idle spell.
                Poll::Pending if mem::take(unflushed) => encoder.flush(),
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => finish(this.state, None),
                Poll::Ready(Some(Err(error))) => {
                    *this.state = State::Done;
                    return Poll::Ready(Some(Err(error.into())));
                }
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => {
                        *unflushed |= !data.is_empty();
                        encoder.write(&data)
                    }
                    Err(frame) => match frame.into_trailers() {
                        // Trailers end the body: the encoded tail must go out before them.
                        Ok(trailers) => finish(this.state, Some(trailers)),
                        // A frame kind this crate does not know: not ours to encode.
                        Err(frame) => return Poll::Ready(Some(Ok(frame))),
                    },
                },
            };
            match encoded {
                Ok(bytes) if !bytes.is_empty() => return Poll::Ready(Some(Ok(Frame::data(bytes)))),
                // Nothing ready yet: poll again (an idle inner body then returns `Pending`).
                Ok(_) => continue,
                Err(source) => {
                    *this.state = State::Done;
                    let encoding = *this.encoding;
                    return Poll::Ready(Some(Err(Box::new(Error::Encoder { encoding, source }))));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.state, State::Done)
    }

    fn size_hint(&self) -> SizeHint {
        match self.state {
            State::Done => SizeHint::with_exact(0),
            State::Streaming { .. } | State::Trailers(_) => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::task::Waker;

    use futures_util::stream;
    use http_body_util::{BodyExt, Full, StreamBody};
    use tokio_stream::wrappers::ReceiverStream;

    use super::*;

    const ALL: [Encoding; 3] = [Encoding::Zstd, Encoding::Brotli, Encoding::Gzip];

    /// About 150 KiB of JSON in 40 chunks.
    fn json_chunks() -> Vec<Bytes> {
        (0..40)
            .map(|chunk| {
                let rows: Vec<String> = (0..40)
                    .map(|i| {
                        let id = chunk * 40 + i;
                        format!(
                            r#"{{"id":{id},"name":"user-{}","email":"u{id}@example.com","active":{},"bio":"row {id} of the test data"}},"#,
                            id * 7919 % 1000,
                            id % 3 == 0
                        )
                    })
                    .collect();
                Bytes::from(rows.concat())
            })
            .collect()
    }

    fn streamed(frames: Vec<Result<Frame<Bytes>, BoxError>>) -> ProxyBody {
        BoxBody::new(StreamBody::new(stream::iter(frames)))
    }

    fn data_frames(chunks: &[Bytes]) -> Vec<Result<Frame<Bytes>, BoxError>> {
        chunks.iter().cloned().map(|c| Ok(Frame::data(c))).collect()
    }

    fn full(bytes: impl Into<Bytes>) -> ProxyBody {
        BoxBody::new(Full::new(bytes.into()).map_err(|never| match never {}))
    }

    /// A 4 KiB body with an exact size, so `min_bytes` never decides.
    fn text_body() -> ProxyBody {
        full("hello compressible world ".repeat(160))
    }

    fn response(status: u16, headers: &[(&str, &str)], body: ProxyBody) -> Response<ProxyBody> {
        let mut builder = Response::builder().status(status);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(body).expect("test response is valid")
    }

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            ACCEPT_ENCODING,
            HeaderValue::from_str(value).expect("valid header"),
        );
        headers
    }

    fn accept_for(encoding: Encoding) -> HeaderMap {
        accept(encoding.as_str())
    }

    fn run(
        method: Method,
        request: &HeaderMap,
        resp: Response<ProxyBody>,
    ) -> (Response<ProxyBody>, Option<Encoding>) {
        compress(
            &method,
            negotiate(request),
            resp,
            &CompressOptions::default(),
        )
    }

    fn header(resp: &Response<ProxyBody>, name: http::header::HeaderName) -> Option<&str> {
        resp.headers()
            .get(name)
            .map(|v| v.to_str().expect("ascii header"))
    }

    /// Every frame of `body`: the concatenated data, and the trailers, which must come last.
    /// Fails on an empty data frame.
    async fn drain(body: &mut ProxyBody) -> (Vec<u8>, Option<HeaderMap>) {
        let mut data = Vec::new();
        let mut trailers = None;
        while let Some(frame) = body.frame().await {
            let frame = frame.expect("body does not fail");
            assert!(trailers.is_none(), "a frame came after the trailers");
            match frame.into_data() {
                Ok(bytes) => {
                    assert!(!bytes.is_empty(), "an empty data frame was yielded");
                    data.extend_from_slice(&bytes);
                }
                Err(frame) => trailers = frame.into_trailers().ok(),
            }
        }
        (data, trailers)
    }

    fn decode(encoding: Encoding, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        match encoding {
            Encoding::Gzip => {
                flate2::read::GzDecoder::new(bytes)
                    .read_to_end(&mut out)
                    .expect("valid gzip");
            }
            Encoding::Brotli => {
                brotli::Decompressor::new(bytes, 4096)
                    .read_to_end(&mut out)
                    .expect("valid br");
            }
            Encoding::Zstd => out = zstd::decode_all(bytes).expect("valid zstd"),
        }
        out
    }

    /// Decode a stream prefix: what a client can already show from the bytes received so far.
    fn decode_prefix(encoding: Encoding, bytes: &[u8]) -> Vec<u8> {
        fn feed<W: Write>(mut decoder: W, bytes: &[u8]) -> W {
            decoder.write_all(bytes).expect("valid prefix");
            decoder.flush().expect("decoder flushes");
            decoder
        }
        match encoding {
            Encoding::Gzip => feed(flate2::write::GzDecoder::new(Vec::new()), bytes)
                .get_ref()
                .clone(),
            Encoding::Brotli => feed(brotli::DecompressorWriter::new(Vec::new(), 4096), bytes)
                .get_ref()
                .clone(),
            Encoding::Zstd => {
                let decoder = zstd::stream::write::Decoder::new(Vec::new()).expect("zstd context");
                feed(decoder, bytes).get_ref().clone()
            }
        }
    }

    #[tokio::test]
    async fn each_encoding_round_trips_a_multi_frame_json_body() {
        let chunks = json_chunks();
        let input = chunks.concat();
        assert!(input.len() > 100 * 1024);
        for encoding in ALL {
            let resp = response(
                200,
                &[("content-type", "application/json")],
                streamed(data_frames(&chunks)),
            );
            let (resp, applied) = run(Method::GET, &accept_for(encoding), resp);
            assert_eq!(applied, Some(encoding));
            let mut body = resp.into_body();
            let (compressed, _) = drain(&mut body).await;
            assert!(body.is_end_stream());
            assert_eq!(body.size_hint().exact(), Some(0));
            assert!(
                compressed.len() < input.len() / 4,
                "{encoding:?} barely compressed"
            );
            assert_eq!(
                decode(encoding, &compressed),
                input,
                "{encoding:?} round trip"
            );
        }
    }

    #[test]
    fn compressing_rewrites_the_representation_headers() {
        let resp = response(
            200,
            &[
                ("content-type", "text/html; charset=utf-8"),
                ("content-length", "4000"),
                ("accept-ranges", "bytes"),
                ("etag", "\"abc\""),
                ("vary", "Origin"),
                ("content-encoding", "identity"),
            ],
            text_body(),
        );
        let (resp, applied) = run(Method::GET, &accept("gzip, br"), resp);
        assert_eq!(applied, Some(Encoding::Brotli));
        assert_eq!(header(&resp, CONTENT_ENCODING), Some("br"));
        assert_eq!(header(&resp, CONTENT_LENGTH), None);
        assert_eq!(header(&resp, ACCEPT_RANGES), None);
        assert_eq!(header(&resp, ETAG), Some("W/\"abc\""));
        assert_eq!(resp.headers().get_all(VARY).iter().count(), 1);
        assert_eq!(header(&resp, VARY), Some("Origin, Accept-Encoding"));
        assert_eq!(resp.body().size_hint().exact(), None);
        assert!(!resp.body().is_end_stream());
    }

    #[test]
    fn a_weak_etag_stays_as_it_is_and_a_malformed_one_goes() {
        for (etag, expected) in [("W/\"abc\"", Some("W/\"abc\"")), ("abc", None)] {
            let resp = response(
                200,
                &[("content-type", "text/plain"), ("etag", etag)],
                text_body(),
            );
            let (resp, applied) = run(Method::GET, &accept("gzip"), resp);
            assert_eq!(applied, Some(Encoding::Gzip));
            assert_eq!(header(&resp, ETAG), expected);
        }
    }

    #[test]
    fn accept_encoding_negotiation_follows_q_values() {
        let cases: &[(&str, Option<Encoding>)] = &[
            ("gzip;q=0.5, br;q=0.8", Some(Encoding::Brotli)),
            ("*;q=0.1, gzip;q=0", Some(Encoding::Zstd)),
            ("identity", None),
            ("gzip;q=0", None),
            ("GZIP", Some(Encoding::Gzip)),
            ("", None),
            ("x-gzip", Some(Encoding::Gzip)),
            ("gzip, deflate, br, zstd", Some(Encoding::Zstd)),
            ("gzip, br", Some(Encoding::Brotli)),
            ("zstd;q=0.999, br;Q=1.0", Some(Encoding::Brotli)),
            ("br ; q=0.2 , gzip ; q=0.3", Some(Encoding::Gzip)),
            ("*", Some(Encoding::Zstd)),
            ("*;q=0", None),
            ("*, zstd;q=0, br;q=0", Some(Encoding::Gzip)),
            ("gzip;q=1.5, br;q=0.1", Some(Encoding::Brotli)),
            ("gzip;q=abc", None),
            ("gzip, gzip;q=0", None),
            ("deflate, compress", None),
        ];
        for (value, expected) in cases {
            assert_eq!(
                negotiate(&accept(value)),
                *expected,
                "Accept-Encoding: {value:?}"
            );
        }
        assert_eq!(negotiate(&HeaderMap::new()), None, "no Accept-Encoding");

        let mut two_lines = accept("gzip;q=0.4");
        two_lines.append(ACCEPT_ENCODING, HeaderValue::from_static("br;q=0.6"));
        assert_eq!(negotiate(&two_lines), Some(Encoding::Brotli));
    }

    /// `compress` left `resp` alone: no coding, no `Vary`, and the same body.
    async fn assert_untouched(method: Method, resp: Response<ProxyBody>) {
        let before = resp.headers().clone();
        let (resp, applied) = run(method, &accept("gzip, br, zstd"), resp);
        assert_eq!(applied, None);
        assert_eq!(resp.headers(), &before);
        let (body, _) = drain(&mut resp.into_body()).await;
        assert!(body.is_empty() || body.starts_with(b"hello"));
    }

    #[tokio::test]
    async fn head_requests_get_the_headers_a_get_would_and_no_body() {
        let head = |len: &'static str| {
            response(
                200,
                &[
                    ("content-type", "text/html"),
                    ("content-length", len),
                    ("etag", "\"a\""),
                ],
                BoxBody::new(http_body_util::Empty::new().map_err(|never| match never {})),
            )
        };
        let (resp, applied) = run(Method::HEAD, &accept("gzip"), head("5000"));
        assert_eq!(applied, Some(Encoding::Gzip));
        assert_eq!(resp.headers()[CONTENT_ENCODING], "gzip");
        assert!(resp.headers().get(CONTENT_LENGTH).is_none());
        assert_eq!(resp.headers()[ETAG], "W/\"a\"");
        let (body, _) = drain(&mut resp.into_body()).await;
        assert!(body.is_empty(), "a HEAD answer stays empty");
        // A small GET body is not compressed, so neither is its HEAD.
        let (resp, applied) = run(Method::HEAD, &accept("gzip"), head("10"));
        assert_eq!(applied, None);
        assert!(resp.headers().get(CONTENT_ENCODING).is_none());
    }

    #[tokio::test]
    async fn bodiless_and_partial_statuses_are_not_compressed() {
        for status in [101, 103, 204, 304] {
            let resp = response(status, &[("content-type", "text/html")], full(""));
            assert_untouched(Method::GET, resp).await;
        }
        let partial = response(206, &[("content-type", "text/html")], text_body());
        assert_untouched(Method::GET, partial).await;
    }

    #[tokio::test]
    async fn content_range_is_not_compressed() {
        let resp = response(
            200,
            &[
                ("content-type", "text/plain"),
                ("content-range", "bytes 0-3999/8000"),
            ],
            text_body(),
        );
        assert_untouched(Method::GET, resp).await;
    }

    #[tokio::test]
    async fn an_already_encoded_response_is_not_compressed_again() {
        let resp = response(
            200,
            &[("content-type", "text/plain"), ("content-encoding", "gzip")],
            text_body(),
        );
        assert_untouched(Method::GET, resp).await;
    }

    #[tokio::test]
    async fn cache_control_no_transform_is_respected() {
        let resp = response(
            200,
            &[
                ("content-type", "text/plain"),
                ("cache-control", "public, No-Transform, max-age=60"),
            ],
            text_body(),
        );
        assert_untouched(Method::GET, resp).await;
    }

    #[tokio::test]
    async fn a_small_content_length_is_not_compressed() {
        let resp = response(
            200,
            &[("content-type", "text/plain"), ("content-length", "1020")],
            streamed(data_frames(&[Bytes::from("hello ".repeat(170))])),
        );
        assert_untouched(Method::GET, resp).await;
    }

    #[tokio::test]
    async fn a_small_exact_size_without_content_length_is_not_compressed() {
        let resp = response(
            200,
            &[("content-type", "text/plain")],
            full("hello, small world"),
        );
        assert_untouched(Method::GET, resp).await;
    }

    #[tokio::test]
    async fn compressed_and_streaming_media_types_are_not_compressed() {
        for media_type in [
            "image/png",
            "IMAGE/JPEG",
            "video/mp4",
            "audio/ogg",
            "font/woff2",
            "application/zip",
            "application/octet-stream",
            "application/pdf",
            "application/grpc",
            "application/grpc+proto",
            "text/event-stream",
            "Text/Event-Stream; charset=utf-8",
        ] {
            let resp = response(200, &[("content-type", media_type)], text_body());
            assert_untouched(Method::GET, resp).await;
        }
    }

    #[tokio::test]
    async fn a_missing_content_type_is_not_compressed() {
        assert_untouched(Method::GET, response(200, &[], text_body())).await;
    }

    #[test]
    fn svg_wasm_and_text_types_are_compressed() {
        for media_type in [
            "image/svg+xml",
            "application/wasm",
            "Text/HTML; charset=UTF-8",
            "application/javascript",
        ] {
            let resp = response(200, &[("content-type", media_type)], text_body());
            let (_, applied) = run(Method::GET, &accept("gzip"), resp);
            assert_eq!(applied, Some(Encoding::Gzip), "{media_type}");
        }
    }

    #[tokio::test]
    async fn vary_is_added_even_when_the_client_accepts_nothing() {
        for request in [HeaderMap::new(), accept("identity"), accept("gzip;q=0")] {
            let resp = response(
                200,
                &[("content-type", "text/plain"), ("content-length", "4000")],
                text_body(),
            );
            let (resp, applied) = run(Method::GET, &request, resp);
            assert_eq!(applied, None);
            assert_eq!(header(&resp, VARY), Some("Accept-Encoding"));
            assert_eq!(header(&resp, CONTENT_ENCODING), None);
            assert_eq!(header(&resp, CONTENT_LENGTH), Some("4000"));
            let (body, _) = drain(&mut resp.into_body()).await;
            assert_eq!(body.len(), 4000);
        }
    }

    #[test]
    fn vary_is_merged_without_duplicates() {
        let cases = [
            (vec!["accept-encoding"], "accept-encoding"),
            (vec!["Origin, Accept-Encoding"], "Origin, Accept-Encoding"),
            (vec!["*"], "*"),
            (vec!["Origin", "Cookie"], "Origin, Cookie, Accept-Encoding"),
        ];
        for (existing, expected) in cases {
            let mut headers = vec![("content-type", "text/plain")];
            headers.extend(existing.iter().map(|v| ("vary", *v)));
            let (resp, _) = run(
                Method::GET,
                &accept("gzip"),
                response(200, &headers, text_body()),
            );
            let vary: Vec<_> = resp.headers().get_all(VARY).iter().collect();
            assert_eq!(vary, [expected], "from {existing:?}");
        }
    }

    #[test]
    fn an_idle_upstream_gets_its_chunk_flushed_before_the_body_ends() {
        let chunk =
            Bytes::from(r#"{"event":"tick","n":1,"note":"streamed while the upstream waits"}"#);
        for encoding in ALL {
            let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, BoxError>>(4);
            let inner = StreamBody::new(ReceiverStream::new(rx));
            let mut body = CompressBody::new(inner, encoding).expect("encoder");
            let mut cx = Context::from_waker(Waker::noop());
            tx.try_send(Ok(Frame::data(chunk.clone())))
                .expect("channel has room");

            let mut sent = Vec::new();
            let mut polls = 0;
            while let Poll::Ready(frame) = Pin::new(&mut body).poll_frame(&mut cx) {
                let bytes = frame
                    .expect("body not ended")
                    .expect("no error")
                    .into_data()
                    .expect("data");
                assert!(!bytes.is_empty());
                sent.extend_from_slice(&bytes);
                polls += 1;
                assert!(polls < 10, "{encoding:?} never went pending");
            }
            assert!(!body.is_end_stream());
            assert_eq!(
                decode_prefix(encoding, &sent),
                chunk,
                "{encoding:?} held the chunk back"
            );

            drop(tx);
            while let Poll::Ready(Some(frame)) = Pin::new(&mut body).poll_frame(&mut cx) {
                let bytes = frame.expect("no error").into_data().expect("data");
                assert!(!bytes.is_empty());
                sent.extend_from_slice(&bytes);
            }
            assert!(body.is_end_stream());
            assert_eq!(decode(encoding, &sent), chunk);
        }
    }

    #[tokio::test]
    async fn trailers_follow_the_compressed_tail() {
        let chunks = json_chunks();
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", HeaderValue::from_static("0"));
        for encoding in ALL {
            let mut frames = data_frames(&chunks[..5]);
            frames.push(Ok(Frame::trailers(trailers.clone())));
            let resp = response(
                200,
                &[("content-type", "application/json")],
                streamed(frames),
            );
            let (resp, applied) = run(Method::GET, &accept_for(encoding), resp);
            assert_eq!(applied, Some(encoding));
            let mut body = resp.into_body();
            let (compressed, got) = drain(&mut body).await;
            assert!(body.is_end_stream());
            assert_eq!(got.as_ref(), Some(&trailers));
            assert_eq!(decode(encoding, &compressed), chunks[..5].concat());
        }
    }

    #[tokio::test]
    async fn an_upstream_error_reaches_the_client() {
        let frames = vec![
            Ok(Frame::data(Bytes::from("partial output ".repeat(100)))),
            Err("upstream reset".into()),
        ];
        let resp = response(200, &[("content-type", "text/plain")], streamed(frames));
        let (resp, _) = run(Method::GET, &accept("gzip"), resp);
        let mut body = resp.into_body();
        let error = loop {
            match body.frame().await {
                Some(Ok(_)) => continue,
                Some(Err(error)) => break error,
                None => panic!("the error was swallowed"),
            }
        };
        assert_eq!(error.to_string(), "upstream reset");
        assert!(body.frame().await.is_none());
    }
}
