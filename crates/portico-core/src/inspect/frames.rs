//! Counting WebSocket frames in a byte stream (RFC 6455 §5.2) without buffering it: only the
//! frame headers are parsed, payloads are skipped as they pass.

/// Counts complete frames in one direction of a WebSocket connection.
#[derive(Debug, Default)]
pub struct FrameCounter {
    /// Header bytes of the frame being read (at most 14).
    header: Vec<u8>,
    /// Payload bytes still to skip in the current frame.
    remaining: u64,
    /// Complete frames so far.
    frames: u64,
}

impl FrameCounter {
    /// Account for `bytes`, the next chunk of the stream.
    pub fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.remaining > 0 {
                let skip = (self.remaining as usize).min(bytes.len());
                self.remaining -= skip as u64;
                bytes = &bytes[skip..];
                if self.remaining == 0 {
                    self.frames += 1;
                }
                continue;
            }
            self.header.push(bytes[0]);
            bytes = &bytes[1..];
            if let Some(payload) = self.header_complete() {
                self.header.clear();
                if payload == 0 {
                    self.frames += 1;
                } else {
                    self.remaining = payload;
                }
            }
        }
    }

    /// Complete frames so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// The payload length once the header is complete.
    fn header_complete(&self) -> Option<u64> {
        let h = &self.header;
        if h.len() < 2 {
            return None;
        }
        let masked = h[1] & 0x80 != 0;
        let (len_bytes, short) = match h[1] & 0x7f {
            126 => (2, None),
            127 => (8, None),
            n => (0, Some(u64::from(n))),
        };
        let need = 2 + len_bytes + if masked { 4 } else { 0 };
        if h.len() < need {
            return None;
        }
        Some(short.unwrap_or_else(|| {
            h[2..2 + len_bytes]
                .iter()
                .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(payload: usize, masked: bool) -> Vec<u8> {
        let mut f = vec![0x81];
        let mask_bit = if masked { 0x80 } else { 0 };
        match payload {
            0..=125 => f.push(mask_bit | payload as u8),
            126..=65535 => {
                f.push(mask_bit | 126);
                f.extend_from_slice(&(payload as u16).to_be_bytes());
            }
            _ => {
                f.push(mask_bit | 127);
                f.extend_from_slice(&(payload as u64).to_be_bytes());
            }
        }
        if masked {
            f.extend_from_slice(&[1, 2, 3, 4]);
        }
        f.extend(std::iter::repeat_n(b'x', payload));
        f
    }

    #[test]
    fn frames_are_counted_whatever_the_chunking() {
        let mut stream = Vec::new();
        for (len, masked) in [
            (0, false),
            (5, true),
            (200, false),
            (70_000, true),
            (125, false),
        ] {
            stream.extend(frame(len, masked));
        }
        for chunk in [1, 3, 7, 1000, stream.len()] {
            let mut counter = FrameCounter::default();
            for piece in stream.chunks(chunk) {
                counter.feed(piece);
            }
            assert_eq!(counter.frames(), 5, "chunk size {chunk}");
        }
    }
}
