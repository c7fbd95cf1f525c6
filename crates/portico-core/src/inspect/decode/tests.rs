use std::io::Write;

use base64::Engine;

use super::*;

fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

fn whole(bytes: Vec<u8>) -> Preview {
    let size = bytes.len() as u64;
    Preview { bytes, size }
}

/// The first `keep` bytes of a body of `bytes.len()` bytes, as the capture limit leaves it.
fn cut(bytes: &[u8], keep: usize) -> Preview {
    Preview {
        bytes: bytes[..keep].to_vec(),
        size: bytes.len() as u64,
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    w.write_all(data).expect("write to a Vec");
    w.finish().expect("finish into a Vec")
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut w = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    w.write_all(data).expect("write to a Vec");
    w.finish().expect("finish into a Vec")
}

fn raw_deflate(data: &[u8]) -> Vec<u8> {
    let mut w = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    w.write_all(data).expect("write to a Vec");
    w.finish().expect("finish into a Vec")
}

fn br(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
        w.write_all(data).expect("write to a Vec");
    }
    out
}

fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).expect("zstd into a Vec")
}

/// Text that does not compress to nothing, so a cut stream still holds whole blocks.
fn sample_text(lines: usize) -> String {
    (0..lines)
        .map(|i| {
            format!(
                "{{\"line\":{i},\"word\":\"{:x}\"}}\n",
                i * 2_654_435_761usize
            )
        })
        .collect()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn plain_json_is_utf8_text_and_complete() {
    let body = "{\"name\":\"Zoë\"}";
    let d = decode_body(
        &whole(body.into()),
        &headers(&[("Content-Type", "application/json")]),
    );
    assert_eq!(d.text.as_deref(), Some(body));
    assert_eq!(d.mime.as_deref(), Some("application/json"));
    assert_eq!(d.charset.as_deref(), Some("utf-8"));
    assert!(d.decoded && d.complete && !d.binary && !d.truncated);
    assert_eq!((d.size, d.captured), (15, 15));
    assert_eq!(d.base64, None);
    assert_eq!(d.error, None);
    assert_eq!(d.content_encoding, None);
}

#[test]
fn every_supported_coding_is_undone() {
    let body = sample_text(50);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("gzip", gzip(body.as_bytes())),
        ("x-gzip", gzip(body.as_bytes())),
        ("deflate", zlib(body.as_bytes())),
        ("deflate", raw_deflate(body.as_bytes())),
        ("br", br(body.as_bytes())),
        ("zstd", zstd(body.as_bytes())),
        ("identity", body.clone().into_bytes()),
        ("GZIP", gzip(body.as_bytes())),
    ];
    for (coding, wire) in cases {
        let d = decode_body(
            &whole(wire),
            &headers(&[("content-type", "text/plain"), ("Content-Encoding", coding)]),
        );
        assert_eq!(d.error, None, "{coding}");
        assert!(d.decoded && d.complete, "{coding}");
        assert_eq!(d.text.as_deref(), Some(body.as_str()), "{coding}");
        assert_eq!(d.content_encoding.as_deref(), Some(coding));
    }
}

#[test]
fn a_list_of_codings_is_undone_last_first() {
    let body = sample_text(20);
    // Applied gzip, then br: the wire holds br(gzip(body)).
    let wire = br(&gzip(body.as_bytes()));
    let d = decode_body(
        &whole(wire.clone()),
        &headers(&[
            ("content-encoding", "gzip, br"),
            ("content-type", "text/plain"),
        ]),
    );
    assert_eq!(d.text.as_deref(), Some(body.as_str()));
    assert!(d.complete);

    // The same list split over two headers means the same.
    let d = decode_body(
        &whole(wire),
        &headers(&[
            ("content-encoding", "gzip"),
            ("content-encoding", "br"),
            ("content-type", "text/plain"),
        ]),
    );
    assert_eq!(d.text.as_deref(), Some(body.as_str()));
    assert_eq!(d.content_encoding.as_deref(), Some("gzip, br"));
}

#[test]
fn a_truncated_compressed_body_decodes_its_prefix() {
    // Large enough for several zstd blocks (128 KiB each): a block is zstd's unit of output.
    let body = sample_text(40_000);
    for (coding, wire) in [
        ("gzip", gzip(body.as_bytes())),
        ("deflate", zlib(body.as_bytes())),
        ("br", br(body.as_bytes())),
        ("zstd", zstd(body.as_bytes())),
    ] {
        let preview = cut(&wire, wire.len() * 3 / 4);
        let d = decode_body(
            &preview,
            &headers(&[("content-encoding", coding), ("content-type", "text/plain")]),
        );
        assert!(d.truncated, "{coding}");
        assert!(d.decoded, "{coding}: {:?}", d.error);
        assert!(!d.complete, "{coding}");
        assert_eq!(d.error, None, "{coding}");
        let text = d.text.unwrap_or_default();
        assert!(!text.is_empty(), "{coding}: nothing decoded");
        assert!(text.len() < body.len(), "{coding}");
        assert!(body.starts_with(&text), "{coding}: decoded a wrong prefix");
        assert_eq!(d.size, wire.len() as u64);
        assert_eq!(d.captured, preview.bytes.len() as u64);
    }
}

#[test]
fn a_capture_too_short_to_decode_shows_the_raw_bytes() {
    let wire = gzip(sample_text(10).as_bytes());
    let d = decode_body(&cut(&wire, 4), &headers(&[("content-encoding", "gzip")]));
    assert!(!d.decoded && !d.complete && d.binary);
    assert_eq!(d.base64, Some(b64(&wire[..4])));
    assert!(d.error.is_some());
}

#[test]
fn a_truncated_identity_body_is_text_without_its_cut_character() {
    let body = "héllo".as_bytes();
    // Cut inside the two bytes of "é".
    let d = decode_body(&cut(body, 2), &headers(&[("content-type", "text/plain")]));
    assert_eq!(d.text.as_deref(), Some("h"));
    assert!(d.decoded && !d.complete && d.truncated);
    // The same cut without a content type, by sniffing.
    let d = decode_body(&cut(body, 2), &[]);
    assert_eq!(d.text.as_deref(), Some("h"));
    // A complete body ending in a broken character is not text.
    let d = decode_body(&whole(body[..2].to_vec()), &[]);
    assert!(d.binary);
}

#[test]
fn output_is_capped_against_decompression_bombs() {
    let zeros = vec![0u8; 64 * 1024];
    let wire = gzip(&zeros);
    assert!(wire.len() < 1024, "a small body expanding 64-fold or more");
    let d = decode_with_limit(
        &whole(wire),
        &headers(&[("content-encoding", "gzip")]),
        4096,
    );
    assert!(d.decoded && !d.complete);
    let error = d.error.unwrap_or_default();
    assert_eq!(
        error,
        "the decoded body exceeds 4096 bytes; showing the first 4096 bytes"
    );
    let shown = base64::engine::general_purpose::STANDARD
        .decode(d.base64.unwrap_or_default())
        .expect("valid base64");
    assert_eq!(shown.len(), 4096);

    for (coding, wire) in [("br", br(&zeros)), ("zstd", zstd(&zeros))] {
        let d = decode_with_limit(
            &whole(wire),
            &headers(&[("content-encoding", coding), ("content-type", "text/plain")]),
            4096,
        );
        assert!(!d.complete, "{coding}");
        assert_eq!(d.text.map(|t| t.len()), Some(4096), "{coding}");
    }
    assert_eq!(MAX_DECODED, 16 * 1024 * 1024);
}

#[test]
fn an_unknown_coding_keeps_the_bytes_as_sent() {
    let d = decode_body(
        &whole(b"\x1f\x9d\x90abc".to_vec()),
        &headers(&[
            ("content-encoding", "compress"),
            ("content-type", "text/plain"),
        ]),
    );
    assert!(!d.decoded && d.binary);
    assert_eq!(d.base64, Some(b64(b"\x1f\x9d\x90abc")));
    assert_eq!(
        d.error.as_deref(),
        Some("unsupported content-encoding \"compress\"")
    );
    assert!(
        d.complete,
        "nothing is missing: the bytes are all there, just not decoded"
    );
}

#[test]
fn a_corrupt_stream_reports_why_and_keeps_the_bytes() {
    let mut wire = gzip(sample_text(100).as_bytes());
    let middle = wire.len() / 2;
    wire[middle] ^= 0xff;
    wire[middle + 1] ^= 0xff;
    let d = decode_body(
        &whole(wire.clone()),
        &headers(&[("content-encoding", "gzip")]),
    );
    assert!(!d.decoded && d.binary);
    assert_eq!(d.base64, Some(b64(&wire)));
    assert!(
        d.error
            .unwrap_or_default()
            .starts_with("cannot decode gzip:")
    );

    let d = decode_body(
        &whole(b"not brotli at all".to_vec()),
        &headers(&[("content-encoding", "br")]),
    );
    assert!(!d.decoded);
    let d = decode_body(
        &whole(b"not zstd at all".to_vec()),
        &headers(&[("content-encoding", "zstd")]),
    );
    assert!(!d.decoded);
}

#[test]
fn an_empty_body_needs_no_decoding() {
    let d = decode_body(
        &whole(Vec::new()),
        &headers(&[
            ("content-encoding", "gzip"),
            ("content-type", "application/json"),
        ]),
    );
    assert!(d.decoded && d.complete && !d.binary);
    assert_eq!(d.text.as_deref(), Some(""));
}

#[test]
fn the_declared_charset_is_honoured() {
    let latin1 = b"caf\xe9 \x80".to_vec();
    let d = decode_body(
        &whole(latin1),
        &headers(&[("content-type", "text/html; Charset=\"ISO-8859-1\"")]),
    );
    assert_eq!(d.text.as_deref(), Some("café €"));
    assert_eq!(d.charset.as_deref(), Some("windows-1252"));
    assert_eq!(d.mime.as_deref(), Some("text/html"));

    let sjis = b"\x93\xfa\x96\x7b".to_vec(); // 日本
    let d = decode_body(
        &whole(sjis),
        &headers(&[("content-type", "text/plain;charset=shift_jis")]),
    );
    assert_eq!(d.text.as_deref(), Some("日本"));

    let utf16: Vec<u8> = "hé".encode_utf16().flat_map(u16::to_le_bytes).collect();
    let d = decode_body(
        &whole(utf16),
        &headers(&[("content-type", "text/plain; charset=utf-16le")]),
    );
    assert_eq!(d.text.as_deref(), Some("hé"));
}

#[test]
fn text_types_are_recognised_by_mime() {
    for mime in [
        "text/css",
        "application/json",
        "application/problem+json",
        "application/atom+xml",
        "application/xml",
        "application/javascript",
        "text/javascript",
        "application/x-www-form-urlencoded",
        "application/graphql",
        "image/svg+xml",
        "application/x-ndjson",
    ] {
        let d = decode_body(
            &whole(b"a\0b".to_vec()),
            &headers(&[("content-type", mime)]),
        );
        assert_eq!(d.text.as_deref(), Some("a\0b"), "{mime}");
    }
}

#[test]
fn binary_is_found_by_mime_or_by_sniffing() {
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    let d = decode_body(
        &whole(png.clone()),
        &headers(&[("content-type", "image/png")]),
    );
    assert!(d.binary && d.text.is_none());
    assert_eq!(d.base64, Some(b64(&png)));
    assert_eq!(d.charset, None);

    // An image type is binary even when its bytes happen to be valid UTF-8.
    let d = decode_body(
        &whole(b"GIF89a".to_vec()),
        &headers(&[("content-type", "image/gif")]),
    );
    assert!(d.binary);

    // No type, or an unspecific one: UTF-8 without NUL is text.
    let d = decode_body(
        &whole(b"hello".to_vec()),
        &headers(&[("content-type", "application/octet-stream")]),
    );
    assert_eq!(d.text.as_deref(), Some("hello"));
    let d = decode_body(&whole(b"hel\0lo".to_vec()), &[]);
    assert!(d.binary);
    let d = decode_body(&whole(png), &[]);
    assert!(d.binary);
}

#[test]
fn a_text_type_with_malformed_bytes_falls_back_to_exact_bytes() {
    let bytes = b"ok \xff\xfe broken".to_vec();
    let d = decode_body(
        &whole(bytes.clone()),
        &headers(&[("content-type", "text/plain")]),
    );
    assert!(d.binary && d.text.is_none());
    assert_eq!(d.base64, Some(b64(&bytes)));
    assert!(
        d.decoded,
        "the content coding (none) was undone; only the charset failed"
    );
}

#[test]
fn a_bom_stays_in_the_text_so_bytes_round_trip() {
    let bytes = b"\xef\xbb\xbf{}".to_vec();
    let h = headers(&[("content-type", "application/json")]);
    let d = decode_body(&whole(bytes.clone()), &h);
    assert_eq!(d.text.as_deref(), Some("\u{feff}{}"));
    assert_eq!(
        encode_text(d.text.as_deref().unwrap_or_default(), &h),
        bytes
    );
}

#[test]
fn encoding_back_round_trips_through_decoding() {
    let body = sample_text(30);
    for list in [
        "gzip", "deflate", "br", "zstd", "gzip, br", "identity", "x-gzip",
    ] {
        let h = headers(&[("content-encoding", list), ("content-type", "text/plain")]);
        let wire = encode_content(body.as_bytes(), &h).expect("encodes");
        let d = decode_body(&whole(wire), &h);
        assert_eq!(d.text.as_deref(), Some(body.as_str()), "{list}");
    }
    let h = headers(&[("content-encoding", "compress")]);
    assert!(matches!(
        encode_content(b"x", &h),
        Err(EncodeError::Unsupported(_))
    ));

    for charset in ["windows-1252", "shift_jis", "utf-16le", "utf-16be", "utf-8"] {
        let h = headers(&[("content-type", &format!("text/plain; charset={charset}"))]);
        let text = match charset {
            "windows-1252" => "café €",
            "shift_jis" => "日本 abc",
            _ => "日本 hé",
        };
        let bytes = encode_text(text, &h);
        let d = decode_body(&whole(bytes), &h);
        assert_eq!(d.text.as_deref(), Some(text), "{charset}");
    }
}

#[test]
fn zstd_bodies_may_hold_several_frames_and_skippable_ones() {
    let mut wire = zstd(b"first ");
    // A skippable frame: magic 0x184D2A50, length 3, three bytes.
    wire.extend_from_slice(&[0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
    wire.extend(zstd(b"second"));
    let d = decode_body(&whole(wire), &headers(&[("content-encoding", "zstd")]));
    assert_eq!(d.text.as_deref(), Some("first second"));
    assert!(d.complete);
}

#[test]
fn decoded_body_serialises_with_its_field_names() {
    let d = decode_body(
        &whole(b"{}".to_vec()),
        &headers(&[("content-type", "application/json")]),
    );
    let json = serde_json::to_value(&d).expect("serialises");
    assert_eq!(json["text"], "{}");
    assert_eq!(json["complete"], true);
    let back: DecodedBody = serde_json::from_value(json).expect("deserialises");
    assert_eq!(back, d);
}
