//! The core reports byte offsets; CodeMirror and JavaScript strings count UTF-16 code units.
//! Specs are nearly always ASCII, where both are the same and no table is built.

/// Maps offsets of one text between bytes and UTF-16 code units.
pub struct Offsets {
    /// `(byte, utf16)` at every character boundary plus the end; empty for ASCII text.
    boundaries: Vec<(usize, usize)>,
    len: usize,
}

impl Offsets {
    pub fn new(text: &str) -> Offsets {
        let boundaries = if text.is_ascii() {
            Vec::new()
        } else {
            let mut units = 0;
            let mut out = Vec::with_capacity(text.len() + 1);
            for (byte, c) in text.char_indices() {
                out.push((byte, units));
                units += c.len_utf16();
            }
            out.push((text.len(), units));
            out
        };
        Offsets {
            boundaries,
            len: text.len(),
        }
    }

    /// The UTF-16 offset of a byte offset; an offset inside a character maps to its start.
    pub fn to_utf16(&self, byte: usize) -> usize {
        let byte = byte.min(self.len);
        if self.boundaries.is_empty() {
            return byte;
        }
        let i = self.boundaries.partition_point(|&(b, _)| b <= byte) - 1;
        self.boundaries[i].1
    }

    /// The byte offset of a UTF-16 offset; an offset inside a surrogate pair maps to its start.
    pub fn to_byte(&self, utf16: usize) -> usize {
        if self.boundaries.is_empty() {
            return utf16.min(self.len);
        }
        let i = self.boundaries.partition_point(|&(_, u)| u <= utf16);
        self.boundaries[i.saturating_sub(1)].0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_is_the_identity() {
        let o = Offsets::new("abc");
        assert_eq!(o.to_utf16(2), 2);
        assert_eq!(o.to_byte(2), 2);
        assert_eq!(o.to_utf16(99), 3);
    }

    #[test]
    fn multibyte_and_astral_characters() {
        // é is 2 bytes / 1 unit; 🦀 is 4 bytes / 2 units.
        let text = "é🦀x";
        let o = Offsets::new(text);
        assert_eq!(o.to_utf16(0), 0);
        assert_eq!(o.to_utf16(2), 1);
        assert_eq!(o.to_utf16(6), 3);
        assert_eq!(o.to_utf16(7), 4);
        assert_eq!(o.to_utf16(4), 1, "inside the crab maps to its start");
        assert_eq!(o.to_byte(1), 2);
        assert_eq!(o.to_byte(3), 6);
        assert_eq!(
            o.to_byte(2),
            2,
            "inside the surrogate pair maps to its start"
        );
        assert_eq!(o.to_byte(4), 7);
    }
}
