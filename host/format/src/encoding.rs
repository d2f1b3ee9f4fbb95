//! The byte-level pieces: LEB128 integers, zigzag, and a cursor that never
//! reads past its end.

use crate::FormatError;

pub(crate) fn put_u64(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

pub(crate) fn put_i64(out: &mut Vec<u8>, value: i64) {
    put_u64(out, ((value << 1) ^ (value >> 63)) as u64);
}

pub(crate) fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_u64(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Reads a chunk's payload. Every error names the absolute file offset.
#[derive(Debug)]
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// File offset of `bytes[0]`.
    base: u64,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8], base: u64) -> Cursor<'a> {
        Cursor {
            bytes,
            pos: 0,
            base,
        }
    }

    pub(crate) fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos == self.bytes.len()
    }

    /// The bytes not read yet.
    pub(crate) fn rest(&self) -> &'a [u8] {
        &self.bytes[self.pos..]
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    pub(crate) fn error(&self, what: impl Into<String>) -> FormatError {
        FormatError::Corrupt {
            offset: self.offset(),
            what: what.into(),
        }
    }

    pub(crate) fn u8(&mut self) -> Result<u8, FormatError> {
        let byte = *self
            .bytes
            .get(self.pos)
            .ok_or_else(|| self.error("unexpected end of chunk"))?;
        self.pos += 1;
        Ok(byte)
    }

    pub(crate) fn u64(&mut self) -> Result<u64, FormatError> {
        let start = self.offset();
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.u8()?;
            let bits = u64::from(byte & 0x7f);
            if shift == 63 && bits > 1 {
                return Err(FormatError::Corrupt {
                    offset: start,
                    what: "integer overflows 64 bits".into(),
                });
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(FormatError::Corrupt {
            offset: start,
            what: "integer longer than 10 bytes".into(),
        })
    }

    pub(crate) fn i64(&mut self) -> Result<i64, FormatError> {
        let raw = self.u64()?;
        Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, FormatError> {
        let at = self.offset();
        u32::try_from(self.u64()?).map_err(|_| FormatError::Corrupt {
            offset: at,
            what: "value does not fit 32 bits".into(),
        })
    }

    pub(crate) fn i32(&mut self) -> Result<i32, FormatError> {
        let at = self.offset();
        i32::try_from(self.i64()?).map_err(|_| FormatError::Corrupt {
            offset: at,
            what: "value does not fit 32 bits".into(),
        })
    }

    pub(crate) fn bool(&mut self) -> Result<bool, FormatError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(self.error(format!("{other} is not a boolean"))),
        }
    }

    pub(crate) fn take(&mut self, len: usize) -> Result<&'a [u8], FormatError> {
        if len > self.remaining() {
            return Err(self.error(format!(
                "{len} bytes announced, {} left in the chunk",
                self.remaining()
            )));
        }
        let bytes = &self.bytes[self.pos..self.pos + len];
        self.pos += len;
        Ok(bytes)
    }

    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], FormatError> {
        let len = self.u64()?;
        let len = usize::try_from(len).map_err(|_| self.error("length too large"))?;
        self.take(len)
    }

    /// A count of items that each take at least one byte: bounded by what is
    /// left, so a corrupt count cannot ask for a huge allocation.
    pub(crate) fn count(&mut self) -> Result<usize, FormatError> {
        let at = self.offset();
        let count = self.u64()?;
        if count > self.remaining() as u64 {
            return Err(FormatError::Corrupt {
                offset: at,
                what: format!("count {count} exceeds the {} bytes left", self.remaining()),
            });
        }
        Ok(count as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_round_trip() {
        for value in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut out = Vec::new();
            put_u64(&mut out, value);
            assert_eq!(Cursor::new(&out, 0).u64().unwrap(), value);
        }
        for value in [0, -1, 1, -64, 64, i64::MIN, i64::MAX] {
            let mut out = Vec::new();
            put_i64(&mut out, value);
            assert_eq!(Cursor::new(&out, 0).i64().unwrap(), value);
        }
    }

    #[test]
    fn small_numbers_are_one_byte() {
        let mut out = Vec::new();
        put_u64(&mut out, 127);
        put_i64(&mut out, -64);
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn malformed_integers_name_their_offset() {
        let err = Cursor::new(&[0xff; 11], 100).u64().unwrap_err();
        assert_eq!(
            err.to_string(),
            "corrupt recording at offset 100: integer overflows 64 bits"
        );
        let mut long = [0x80u8; 11];
        long[9] = 0x81;
        let err = Cursor::new(&long, 100).u64().unwrap_err();
        assert_eq!(
            err.to_string(),
            "corrupt recording at offset 100: integer longer than 10 bytes"
        );
        let err = Cursor::new(&[0x80], 7).u64().unwrap_err();
        assert_eq!(
            err.to_string(),
            "corrupt recording at offset 8: unexpected end of chunk"
        );
    }
}
