//! The message bodies: binary, ASCII text, or text of mixed 1-4 byte UTF-8.

/// What a message holds.
#[derive(Clone, Copy)]
pub enum Kind {
    Binary,
    Text,
    Utf8,
}

impl Kind {
    pub fn parse(s: &str) -> Result<Kind, String> {
        match s {
            "binary" => Ok(Kind::Binary),
            "text" => Ok(Kind::Text),
            "utf8" => Ok(Kind::Utf8),
            _ => Err(format!("--kind must be binary, text or utf8, not {s:?}")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Binary => "binary",
            Kind::Text => "text",
            Kind::Utf8 => "utf8",
        }
    }

    /// Whether it goes in a text frame.
    pub fn is_text(self) -> bool {
        !matches!(self, Kind::Binary)
    }
}

/// A body of exactly `size` bytes; text kinds are valid UTF-8.
pub fn make(kind: Kind, size: usize) -> Vec<u8> {
    match kind {
        Kind::Binary => (0..size).map(|i| (i * 131 % 251) as u8).collect(),
        Kind::Text => (0..size).map(|i| b'a' + (i % 26) as u8).collect(),
        Kind::Utf8 => mixed_utf8(size),
    }
}

/// Characters of 1, 2, 3 and 4 bytes in a scrambled order, padded with ASCII.
fn mixed_utf8(size: usize) -> Vec<u8> {
    const CHARS: [char; 8] = ['a', 'é', '€', '😀', 'Z', 'ж', '中', '𝄞'];
    let mut out = String::with_capacity(size);
    let mut state = 0x2545_f491_u32;
    loop {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let c = CHARS[(state % 8) as usize];
        if out.len() + c.len_utf8() > size {
            break;
        }
        out.push(c);
    }
    while out.len() < size {
        out.push('.');
    }
    out.into_bytes()
}
