//! Making a captured body readable: undoing its `Content-Encoding` (gzip, deflate, br, zstd),
//! honouring the `Content-Type` charset, and deciding whether it is text or binary. Also the
//! inverse (encoding a readable body back into wire bytes) that HAR import needs.
//!
//! Everything here is a pure function of the preview and the message's headers: it never
//! fails, it reports. A preview cut at the capture limit is decoded as far as it goes and
//! marked incomplete; output is capped at [`MAX_DECODED`] so a decompression bomb cannot
//! exhaust memory. Capturing bodies belongs to `capture.rs`; showing them to the UI.
//!
//! Decoders are pure Rust: `flate2` on `miniz_oxide` (gzip, zlib and raw deflate), `brotli`
//! (whose decoder is `brotli-decompressor`) and `encoding_rs` (charsets). zstd is the one C
//! library (`zstd`, bundling libzstd): the pure-Rust `ruzstd` keeps a whole window before it
//! yields anything, so a body cut at the capture limit would decode to nothing.

use std::borrow::Cow;
use std::io::{self, Read, Write};

use base64::Engine;
use serde::{Deserialize, Serialize};

use super::event::Preview;

/// The most bytes one body decodes to: 16 MiB. Past it decoding stops, the result says
/// `complete: false` and `error` says why.
pub const MAX_DECODED: usize = 16 << 20;

/// log2 of [`MAX_DECODED`]: a zstd window past it could only serve output past the cap.
const ZSTD_WINDOW_LOG_MAX: u32 = 24;

/// A body made readable, with what is known about how complete it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DecodedBody {
    /// True size on the wire (the preview's `size`).
    pub size: u64,
    /// Bytes captured (the preview's length).
    pub captured: u64,
    /// Whether the capture is shorter than the body.
    pub truncated: bool,
    /// `Content-Encoding` as sent (several headers joined with `, `).
    pub content_encoding: Option<String>,
    /// The content coding was undone (or there was none).
    pub decoded: bool,
    /// The whole body was decoded: false when the capture was truncated, decoding stopped
    /// early, or the output reached [`MAX_DECODED`].
    pub complete: bool,
    /// `Content-Type` without parameters, lowercase.
    pub mime: Option<String>,
    /// The character set `text` was decoded from (`encoding_rs` name, lowercase: a declared
    /// `iso-8859-1` reads as `windows-1252`, as browsers do). `None` for binary bodies.
    pub charset: Option<String>,
    /// The body as text, when it is displayable as text.
    pub text: Option<String>,
    /// Otherwise the decoded bytes (or the bytes as sent, if decoding failed), base64.
    pub base64: Option<String>,
    /// Whether the body is shown as bytes rather than text.
    pub binary: bool,
    /// Why decoding failed or stopped, if it did.
    pub error: Option<String>,
}

/// Decode `preview` using that message's `headers` (names in any case): undo
/// `Content-Encoding` in reverse order of application, then decode text in the
/// `Content-Type` charset (UTF-8 by default) or fall back to base64 for binary bodies.
pub fn decode_body(preview: &Preview, headers: &[(String, String)]) -> DecodedBody {
    decode_with_limit(preview, headers, MAX_DECODED)
}

fn decode_with_limit(preview: &Preview, headers: &[(String, String)], limit: usize) -> DecodedBody {
    let truncated = preview.truncated();
    let content_encoding = header_values(headers, "content-encoding");
    let (mime, declared_charset) = content_type(headers);

    let mut body = Cow::Borrowed(preview.bytes.as_slice());
    let mut decoded = true;
    let mut complete = !truncated;
    let mut error = None;
    if let Some(list) = content_encoding.as_deref()
        && !preview.bytes.is_empty()
    {
        match parse_codings(list) {
            Err(unknown) => {
                decoded = false;
                error = Some(format!("unsupported content-encoding {unknown:?}"));
            }
            Ok(codings) => {
                // Codings are listed in the order they were applied: undo the last first.
                for coding in codings.iter().rev() {
                    let input_cut = !complete;
                    let layer = undo(*coding, &body, limit);
                    match layer.stop {
                        Stop::End => body = Cow::Owned(layer.bytes),
                        Stop::Capped => {
                            body = Cow::Owned(layer.bytes);
                            complete = false;
                            let cap = if limit.is_multiple_of(1 << 20) {
                                format!("{} MiB", limit >> 20)
                            } else {
                                format!("{limit} bytes")
                            };
                            error = Some(format!(
                                "the decoded body exceeds {cap}; showing the first {cap}"
                            ));
                        }
                        // A cut stream fails at its end; what came before it is good.
                        Stop::Failed(_) if input_cut && !layer.bytes.is_empty() => {
                            body = Cow::Owned(layer.bytes);
                        }
                        Stop::Failed(why) => {
                            decoded = false;
                            complete = !truncated;
                            body = Cow::Borrowed(preview.bytes.as_slice());
                            error = Some(format!("cannot decode {}: {why}", coding.name()));
                            break;
                        }
                    }
                }
            }
        }
    }

    let mut result = DecodedBody {
        size: preview.size,
        captured: preview.bytes.len() as u64,
        truncated,
        content_encoding,
        decoded,
        complete,
        mime: mime.clone(),
        charset: None,
        text: None,
        base64: None,
        binary: true,
        error,
    };
    let text = if decoded {
        match classify(mime.as_deref()) {
            Kind::Text => to_text(&body, declared_charset.as_deref(), complete),
            Kind::Binary => None,
            Kind::Unknown if declared_charset.is_some() => {
                to_text(&body, declared_charset.as_deref(), complete)
            }
            Kind::Unknown => sniff_utf8(&body, complete),
        }
    } else {
        None
    };
    match text {
        Some((text, charset)) => {
            result.text = Some(text);
            result.charset = Some(charset);
            result.binary = false;
        }
        None => {
            result.base64 = Some(base64::engine::general_purpose::STANDARD.encode(&body));
        }
    }
    result
}

/// All values of header `name` joined with `, ` (`None` when absent).
fn header_values(headers: &[(String, String)], name: &str) -> Option<String> {
    let values: Vec<&str> = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

/// The media type (lowercase, without parameters) and the `charset` parameter.
fn content_type(headers: &[(String, String)]) -> (Option<String>, Option<String>) {
    let Some((_, value)) = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    else {
        return (None, None);
    };
    let mut parts = value.split(';');
    let mime = parts
        .next()
        .map(|m| m.trim().to_ascii_lowercase())
        .filter(|m| !m.is_empty());
    let charset = parts.find_map(|p| {
        let (key, val) = p.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| val.trim().trim_matches('"').to_ascii_lowercase())
    });
    (mime, charset.filter(|c| !c.is_empty()))
}

/// A content coding Portico can undo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    Gzip,
    Deflate,
    Brotli,
    Zstd,
}

impl Coding {
    fn name(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
            Coding::Brotli => "br",
            Coding::Zstd => "zstd",
        }
    }
}

/// The codings in a `Content-Encoding` list, in the order applied, without `identity`; the
/// first unknown name is the error.
fn parse_codings(list: &str) -> Result<Vec<Coding>, String> {
    let mut codings = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match name.to_ascii_lowercase().as_str() {
            "identity" | "none" => {}
            "gzip" | "x-gzip" => codings.push(Coding::Gzip),
            "deflate" => codings.push(Coding::Deflate),
            "br" => codings.push(Coding::Brotli),
            "zstd" => codings.push(Coding::Zstd),
            _ => return Err(name.to_owned()),
        }
    }
    Ok(codings)
}

/// How undoing one coding ended.
enum Stop {
    /// The stream ended normally.
    End,
    /// The output reached the limit.
    Capped,
    /// The decoder failed (or the input ended mid-stream).
    Failed(String),
}

struct Layer {
    bytes: Vec<u8>,
    stop: Stop,
}

fn undo(coding: Coding, input: &[u8], limit: usize) -> Layer {
    match coding {
        Coding::Gzip => read_all(flate2::read::MultiGzDecoder::new(input), limit),
        // `deflate` is meant to be zlib-wrapped (RFC 9110), but some servers send raw deflate.
        Coding::Deflate if looks_like_zlib(input) => {
            read_all(flate2::read::ZlibDecoder::new(input), limit)
        }
        Coding::Deflate => read_all(flate2::read::DeflateDecoder::new(input), limit),
        Coding::Brotli => read_all(brotli::Decompressor::new(input, 4096), limit),
        Coding::Zstd => unzstd(input, limit),
    }
}

/// A zlib header: compression method 8, a window of at most 32 KiB, and a check value that
/// makes the first two bytes a multiple of 31.
fn looks_like_zlib(input: &[u8]) -> bool {
    match input {
        [cmf, flg, ..] => {
            cmf & 0x0f == 8 && cmf >> 4 <= 7 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0
        }
        _ => false,
    }
}

/// Read `reader` to its end, keeping at most `limit` bytes; on error keep what came before.
fn read_all(reader: impl Read, limit: usize) -> Layer {
    let mut bytes = Vec::new();
    let outcome = reader.take(limit as u64 + 1).read_to_end(&mut bytes);
    let stop = match outcome {
        Err(e) => Stop::Failed(describe(&e)),
        Ok(_) if bytes.len() > limit => {
            bytes.truncate(limit);
            Stop::Capped
        }
        Ok(_) => Stop::End,
    };
    Layer { bytes, stop }
}

fn describe(e: &io::Error) -> String {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        "the stream ends early".to_owned()
    } else {
        e.to_string()
    }
}

/// zstd (libzstd handles several frames and skippable ones). Frames may not ask for a
/// window larger than [`MAX_DECODED`].
fn unzstd(input: &[u8], limit: usize) -> Layer {
    let mut decoder = match zstd::stream::read::Decoder::with_buffer(input) {
        Ok(d) => d,
        Err(e) => {
            return Layer {
                bytes: Vec::new(),
                stop: Stop::Failed(e.to_string()),
            };
        }
    };
    if let Err(e) = decoder.window_log_max(ZSTD_WINDOW_LOG_MAX) {
        return Layer {
            bytes: Vec::new(),
            stop: Stop::Failed(e.to_string()),
        };
    }
    read_all(decoder, limit)
}

enum Kind {
    Text,
    Binary,
    Unknown,
}

/// Text or binary by media type; `Unknown` leaves it to sniffing.
fn classify(mime: Option<&str>) -> Kind {
    let Some(mime) = mime else {
        return Kind::Unknown;
    };
    let (top, sub) = mime.split_once('/').unwrap_or((mime, ""));
    let textual_sub = [
        "json",
        "xml",
        "javascript",
        "ecmascript",
        "graphql",
        "yaml",
        "toml",
    ]
    .iter()
    .any(|t| sub.contains(t));
    match top {
        "text" => Kind::Text,
        _ if textual_sub => Kind::Text,
        "application"
            if matches!(
                sub,
                "x-www-form-urlencoded" | "x-ndjson" | "jsonl" | "csv" | "sql" | "x-sh"
            ) =>
        {
            Kind::Text
        }
        "image" | "audio" | "video" | "font" => Kind::Binary,
        _ => Kind::Unknown,
    }
}

/// `bytes` as text in `charset` (UTF-8 when absent or unknown). `None` if malformed, so the
/// caller keeps the exact bytes. When the body is incomplete, a character cut at the end is
/// dropped rather than reported.
fn to_text(bytes: &[u8], charset: Option<&str>, complete: bool) -> Option<(String, String)> {
    let encoding = charset
        .and_then(|c| encoding_rs::Encoding::for_label(c.as_bytes()))
        .unwrap_or(encoding_rs::UTF_8);
    // No BOM sniffing: a BOM stays in the text as U+FEFF so the bytes round-trip.
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let capacity = decoder.max_utf8_buffer_length_without_replacement(bytes.len())?;
    let mut text = String::with_capacity(capacity);
    let (result, _) = decoder.decode_to_string_without_replacement(bytes, &mut text, complete);
    match result {
        encoding_rs::DecoderResult::InputEmpty => {
            Some((text, encoding.name().to_ascii_lowercase()))
        }
        _ => None,
    }
}

/// Valid UTF-8 without NUL reads as text.
fn sniff_utf8(bytes: &[u8], complete: bool) -> Option<(String, String)> {
    let valid = match std::str::from_utf8(bytes) {
        Ok(s) => s,
        // A character cut by the capture limit (`error_len` is `None` only at the very end).
        Err(e) if !complete && e.error_len().is_none() => {
            std::str::from_utf8(&bytes[..e.valid_up_to()]).ok()?
        }
        Err(_) => return None,
    };
    (!valid.contains('\0')).then(|| (valid.to_owned(), "utf-8".to_owned()))
}

/// Why a body could not be encoded back into wire bytes.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// A coding Portico cannot apply.
    #[error("unsupported content-encoding {0:?}")]
    Unsupported(String),
    /// The encoder failed.
    #[error("cannot {coding}-encode the body: {source}")]
    Encoder {
        /// The coding.
        coding: &'static str,
        /// What failed.
        source: io::Error,
    },
}

/// The inverse of [`decode_body`]'s text step: `text` in the charset its `Content-Type`
/// declares (UTF-8 by default; UTF-16 with the declared byte order).
pub fn encode_text(text: &str, headers: &[(String, String)]) -> Vec<u8> {
    let (_, charset) = content_type(headers);
    let encoding = charset
        .and_then(|c| encoding_rs::Encoding::for_label(c.as_bytes()))
        .unwrap_or(encoding_rs::UTF_8);
    // encoding_rs encodes UTF-16 as UTF-8 (the Encoding Standard's rule); do it here.
    if encoding == encoding_rs::UTF_16LE {
        return text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    }
    if encoding == encoding_rs::UTF_16BE {
        return text.encode_utf16().flat_map(u16::to_be_bytes).collect();
    }
    encoding.encode(text).0.into_owned()
}

/// The inverse of [`decode_body`]'s first step: apply the message's `Content-Encoding`
/// list to `bytes`, in order.
pub fn encode_content(bytes: &[u8], headers: &[(String, String)]) -> Result<Vec<u8>, EncodeError> {
    let Some(list) = header_values(headers, "content-encoding") else {
        return Ok(bytes.to_vec());
    };
    let codings = parse_codings(&list).map_err(EncodeError::Unsupported)?;
    let mut body = bytes.to_vec();
    for coding in codings {
        let failed = |source| EncodeError::Encoder {
            coding: coding.name(),
            source,
        };
        body = match coding {
            Coding::Gzip => {
                let mut w =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                w.write_all(&body).map_err(failed)?;
                w.finish().map_err(failed)?
            }
            Coding::Deflate => {
                let mut w =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
                w.write_all(&body).map_err(failed)?;
                w.finish().map_err(failed)?
            }
            Coding::Brotli => {
                let mut out = Vec::new();
                {
                    let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
                    w.write_all(&body).map_err(failed)?;
                    w.flush().map_err(failed)?;
                }
                out
            }
            Coding::Zstd => zstd::encode_all(body.as_slice(), 0).map_err(failed)?,
        };
    }
    Ok(body)
}

#[cfg(test)]
mod tests;
