//! QR codes for the share links: SVG for the web UI, Unicode half blocks for a terminal.

use qrcode::render::{svg, unicode};
use qrcode::{EcLevel, QrCode};

/// `text` as a QR code in SVG (black on white, with the quiet zone), `None` when it is too
/// long for a QR code.
pub fn qr_svg(text: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).ok()?;
    Some(
        code.render::<svg::Color<'_>>()
            .min_dimensions(200, 200)
            .dark_color(svg::Color("#000000"))
            .light_color(svg::Color("#ffffff"))
            .build(),
    )
}

/// `text` as a QR code drawn with Unicode half blocks, two modules a character, for a
/// terminal with a dark background (light modules are drawn, as `qrencode -t UTF8` does).
pub fn qr_terminal(text: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::L).ok()?;
    Some(
        code.render::<unicode::Dense1x2>()
            .dark_color(unicode::Dense1x2::Light)
            .light_color(unicode::Dense1x2::Dark)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_become_svg_and_terminal_codes() {
        let svg = qr_svg("https://192.168.1.20:51234/").expect("svg");
        assert!(svg.contains("<svg") && svg.contains("</svg>"), "{svg}");
        let text = qr_terminal("https://192.168.1.20:51234/").expect("text");
        assert!(text.lines().count() > 10, "{text}");
        assert!(text.contains('\u{2588}'));
    }
}
