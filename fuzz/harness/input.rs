//! Reading fuzz bytes as operations: single bytes and length-prefixed slices. Reading past the
//! end yields zeros and empty slices, so every byte string is a valid input.

/// The unread rest of a fuzz input.
pub(crate) struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Self(data)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The next byte, or 0 at the end.
    pub(crate) fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    /// The next two bytes as a big-endian number.
    pub(crate) fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte(), self.byte()])
    }

    /// A slice prefixed by its length: one byte below 254; 254 then two bytes (big-endian);
    /// 255 takes everything left.
    pub(crate) fn bytes(&mut self) -> &'a [u8] {
        let n = match self.byte() {
            0xFF => self.0.len(),
            0xFE => usize::from(self.u16()).min(self.0.len()),
            n => usize::from(n).min(self.0.len()),
        };
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }

    /// [`Input::bytes`] as text (invalid UTF-8 replaced).
    pub(crate) fn text(&mut self) -> String {
        String::from_utf8_lossy(self.bytes()).into_owned()
    }

    /// Everything left.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.0)
    }
}
