//! MessagePack written by hand: each value in its most compact form, into the
//! payload's `Vec` or a few values gathered on the stack.

/// Where MessagePack goes: the payload's `Vec`, or a few values gathered on the stack
/// ([`Fixed`]).
pub(super) trait Sink {
    fn push(&mut self, byte: u8);
    fn extend(&mut self, bytes: &[u8]);
}

impl Sink for &mut Vec<u8> {
    #[inline(always)]
    fn push(&mut self, byte: u8) {
        Vec::push(self, byte);
    }

    #[inline(always)]
    fn extend(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// A span's numbers (and v0.4's keys for them), gathered on the stack and copied into
/// the payload in one piece: one capacity check instead of one per value. Six values
/// and their keys take at most 94 bytes (a test writes the largest).
#[derive(Clone)]
pub(super) struct Fixed {
    pub(super) bytes: [u8; 128],
    pub(super) len: usize,
}

impl Fixed {
    pub(super) fn new() -> Fixed {
        Fixed {
            bytes: [0; 128],
            len: 0,
        }
    }

    pub(super) fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len.min(self.bytes.len())]
    }
}

impl Sink for Fixed {
    #[inline(always)]
    fn push(&mut self, byte: u8) {
        self.extend(&[byte]);
    }

    #[inline(always)]
    fn extend(&mut self, bytes: &[u8]) {
        // Never more than fits (see above); were it ever, the bytes would be left out
        // rather than the exporter thread stopped.
        let end = self.len + bytes.len();
        if let Some(slot) = self.bytes.get_mut(self.len..end) {
            slot.copy_from_slice(bytes);
            self.len = end;
        } else {
            debug_assert!(false, "a span's numbers take at most 94 bytes");
        }
    }
}

/// A string's bytes as MessagePack can carry them: no string here comes near 4 GiB; one
/// that did would be cut short (in both formats).
#[inline(always)]
pub(super) fn str_bytes(s: &str) -> &[u8] {
    &s.as_bytes()[..s.len().min(u32::MAX as usize)]
}

/// MessagePack into a [`Sink`], each value in its most compact form. Writing cannot
/// fail.
pub(super) struct Writer<S: Sink>(pub(super) S);

/// Writing into the payload.
pub(super) type VecWriter<'a> = Writer<&'a mut Vec<u8>>;

impl<S: Sink> Writer<S> {
    #[inline(always)]
    pub(super) fn bytes(&mut self, bytes: &[u8]) {
        self.0.extend(bytes);
    }

    /// A marker byte, then `len` big-endian in the width the marker says.
    #[inline(always)]
    pub(super) fn head(&mut self, marker: u8, len: u64, width: usize) {
        let mut bytes = [0u8; 9];
        bytes[0] = marker;
        bytes[1..].copy_from_slice(&len.to_be_bytes());
        // The marker, then the value's last `width` bytes.
        bytes.copy_within(9 - width..9, 1);
        self.bytes(&bytes[..1 + width]);
    }

    #[inline(always)]
    pub(super) fn str(&mut self, s: &str) {
        let bytes = str_bytes(s);
        self.str_head(bytes.len());
        self.bytes(bytes);
    }

    /// A string's header, for `len` bytes (at most `u32::MAX`).
    #[inline(always)]
    pub(super) fn str_head(&mut self, len: usize) {
        let len = len as u64;
        match len {
            0..32 => self.0.push(0xa0 | len as u8),
            32..256 => self.head(0xd9, len, 1),
            256..65_536 => self.head(0xda, len, 2),
            _ => self.head(0xdb, len, 4),
        }
    }

    #[inline(always)]
    pub(super) fn uint(&mut self, value: u64) {
        match value {
            0..128 => self.0.push(value as u8),
            128..256 => self.head(0xcc, value, 1),
            256..65_536 => self.head(0xcd, value, 2),
            65_536..0x1_0000_0000 => self.head(0xce, value, 4),
            _ => self.head(0xcf, value, 8),
        }
    }

    #[inline(always)]
    pub(super) fn int(&mut self, value: i64) {
        match value {
            0.. => self.uint(value as u64),
            -32..0 => self.0.push(value as u8),
            -128..-32 => self.head(0xd0, value as u64, 1),
            -32_768..-128 => self.head(0xd1, value as u64, 2),
            -0x8000_0000..-32_768 => self.head(0xd2, value as u64, 4),
            _ => self.head(0xd3, value as u64, 8),
        }
    }

    #[inline(always)]
    pub(super) fn f64(&mut self, value: f64) {
        self.head(0xcb, value.to_bits(), 8);
    }

    pub(super) fn bool(&mut self, value: bool) {
        self.0.push(if value { 0xc3 } else { 0xc2 });
    }

    /// Bytes as MessagePack's `bin` (at most 4 GiB).
    pub(super) fn bin(&mut self, bytes: &[u8]) {
        let len = bytes.len().min(u32::MAX as usize);
        match len {
            0..256 => self.head(0xc4, len as u64, 1),
            256..65_536 => self.head(0xc5, len as u64, 2),
            _ => self.head(0xc6, len as u64, 4),
        }
        self.bytes(&bytes[..len]);
    }

    #[inline(always)]
    pub(super) fn map_len(&mut self, len: usize) {
        self.container_len(0x80, 0xde, len);
    }

    #[inline(always)]
    pub(super) fn array_len(&mut self, len: usize) {
        self.container_len(0x90, 0xdc, len);
    }

    /// A map or array header: the fix form below 16 entries, else 16 or 32 bits.
    #[inline(always)]
    pub(super) fn container_len(&mut self, fix: u8, wide: u8, len: usize) {
        let len = len.min(u32::MAX as usize) as u64;
        match len {
            0..16 => self.0.push(fix | len as u8),
            16..65_536 => self.head(wide, len, 2),
            _ => self.head(wide + 1, len, 4),
        }
    }
}
