//! How the outcome of a filesystem call is kept in an `fs` input: a small
//! binary encoding of the WASI types, the same on the way into the log and
//! on the way back out during re-execution. `docs/recording-format.md`
//! describes the bytes.

use wasmtime_wasi::p2::bindings::sync::filesystem::types as fs;

/// A value that an `fs` input can carry.
pub(crate) trait Wire: Sized {
    fn put(&self, out: &mut Vec<u8>);
    fn get(input: &mut Reader<'_>) -> Option<Self>;
}

/// The encoding of `value`.
pub(crate) fn encode<T: Wire>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    value.put(&mut out);
    out
}

/// `bytes` decoded as a `T`, all of them; `None` when they are not one.
pub(crate) fn decode<T: Wire>(bytes: &[u8]) -> Option<T> {
    let mut reader = Reader { bytes };
    let value = T::get(&mut reader)?;
    reader.bytes.is_empty().then_some(value)
}

pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&first, rest) = self.bytes.split_first()?;
        self.bytes = rest;
        Some(first)
    }

    fn take(&mut self, len: usize) -> Option<&[u8]> {
        if self.bytes.len() < len {
            return None;
        }
        let (taken, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Some(taken)
    }
}

impl Wire for () {
    fn put(&self, _: &mut Vec<u8>) {}
    fn get(_: &mut Reader<'_>) -> Option<()> {
        Some(())
    }
}

impl Wire for bool {
    fn put(&self, out: &mut Vec<u8>) {
        out.push((*self).into());
    }
    fn get(input: &mut Reader<'_>) -> Option<bool> {
        match input.byte()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }
}

/// LEB128.
impl Wire for u64 {
    fn put(&self, out: &mut Vec<u8>) {
        let mut value = *self;
        while value >= 0x80 {
            out.push(value as u8 | 0x80);
            value >>= 7;
        }
        out.push(value as u8);
    }
    fn get(input: &mut Reader<'_>) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = input.byte()?;
            value |= u64::from(byte & 0x7f).checked_shl(shift)?;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }
}

impl Wire for u32 {
    fn put(&self, out: &mut Vec<u8>) {
        u64::from(*self).put(out)
    }
    fn get(input: &mut Reader<'_>) -> Option<u32> {
        u32::try_from(u64::get(input)?).ok()
    }
}

impl Wire for String {
    fn put(&self, out: &mut Vec<u8>) {
        (self.len() as u64).put(out);
        out.extend_from_slice(self.as_bytes());
    }
    fn get(input: &mut Reader<'_>) -> Option<String> {
        let len = usize::try_from(u64::get(input)?).ok()?;
        String::from_utf8(input.take(len)?.to_vec()).ok()
    }
}

impl<T: Wire> Wire for Option<T> {
    fn put(&self, out: &mut Vec<u8>) {
        match self {
            None => out.push(0),
            Some(value) => {
                out.push(1);
                value.put(out);
            }
        }
    }
    fn get(input: &mut Reader<'_>) -> Option<Option<T>> {
        match input.byte()? {
            0 => Some(None),
            1 => Some(Some(T::get(input)?)),
            _ => None,
        }
    }
}

impl<T: Wire> Wire for Vec<T> {
    fn put(&self, out: &mut Vec<u8>) {
        (self.len() as u64).put(out);
        for item in self {
            item.put(out);
        }
    }
    fn get(input: &mut Reader<'_>) -> Option<Vec<T>> {
        let len = u64::get(input)?;
        // Every item takes a byte at least: a corrupt length cannot make
        // this allocate more than the input holds.
        if len > input.bytes.len() as u64 {
            return None;
        }
        (0..len).map(|_| T::get(input)).collect()
    }
}

/// `0` for success, then the value; `1 + code` for an error.
impl<T: Wire> Wire for Result<T, fs::ErrorCode> {
    fn put(&self, out: &mut Vec<u8>) {
        match self {
            Ok(value) => {
                out.push(0);
                value.put(out);
            }
            Err(code) => code.put(out),
        }
    }
    fn get(input: &mut Reader<'_>) -> Option<Self> {
        match input.bytes.first()? {
            0 => {
                input.byte();
                Some(Ok(T::get(input)?))
            }
            _ => Some(Err(fs::ErrorCode::get(input)?)),
        }
    }
}

/// The error codes in the order `wasi:filesystem` declares them.
const ERROR_CODES: [fs::ErrorCode; 37] = {
    use fs::ErrorCode::*;
    [
        Access,
        WouldBlock,
        Already,
        BadDescriptor,
        Busy,
        Deadlock,
        Quota,
        Exist,
        FileTooLarge,
        IllegalByteSequence,
        InProgress,
        Interrupted,
        Invalid,
        Io,
        IsDirectory,
        Loop,
        TooManyLinks,
        MessageSize,
        NameTooLong,
        NoDevice,
        NoEntry,
        NoLock,
        InsufficientMemory,
        InsufficientSpace,
        NotDirectory,
        NotEmpty,
        NotRecoverable,
        Unsupported,
        NoTty,
        NoSuchDevice,
        Overflow,
        NotPermitted,
        Pipe,
        ReadOnly,
        InvalidSeek,
        TextFileBusy,
        CrossDevice,
    ]
};

/// As an error of a result: `1 + ` its place in the declaration.
impl Wire for fs::ErrorCode {
    fn put(&self, out: &mut Vec<u8>) {
        let index = ERROR_CODES.iter().position(|code| code == self);
        out.push(1 + index.unwrap_or(0) as u8);
    }
    fn get(input: &mut Reader<'_>) -> Option<fs::ErrorCode> {
        let tag = input.byte()?;
        ERROR_CODES.get(usize::from(tag.checked_sub(1)?)).copied()
    }
}

const DESCRIPTOR_TYPES: [fs::DescriptorType; 8] = {
    use fs::DescriptorType::*;
    [
        Unknown,
        BlockDevice,
        CharacterDevice,
        Directory,
        Fifo,
        SymbolicLink,
        RegularFile,
        Socket,
    ]
};

impl Wire for fs::DescriptorType {
    fn put(&self, out: &mut Vec<u8>) {
        let index = DESCRIPTOR_TYPES.iter().position(|ty| ty == self);
        out.push(index.unwrap_or(0) as u8);
    }
    fn get(input: &mut Reader<'_>) -> Option<fs::DescriptorType> {
        DESCRIPTOR_TYPES.get(usize::from(input.byte()?)).copied()
    }
}

const DESCRIPTOR_FLAGS: [fs::DescriptorFlags; 6] = [
    fs::DescriptorFlags::READ,
    fs::DescriptorFlags::WRITE,
    fs::DescriptorFlags::FILE_INTEGRITY_SYNC,
    fs::DescriptorFlags::DATA_INTEGRITY_SYNC,
    fs::DescriptorFlags::REQUESTED_WRITE_SYNC,
    fs::DescriptorFlags::MUTATE_DIRECTORY,
];

/// One bit per flag, in declaration order.
impl Wire for fs::DescriptorFlags {
    fn put(&self, out: &mut Vec<u8>) {
        let bits = DESCRIPTOR_FLAGS
            .iter()
            .enumerate()
            .filter(|(_, flag)| self.contains(**flag))
            .fold(0u64, |bits, (bit, _)| bits | 1 << bit);
        bits.put(out)
    }
    fn get(input: &mut Reader<'_>) -> Option<fs::DescriptorFlags> {
        let bits = u64::get(input)?;
        if bits >> DESCRIPTOR_FLAGS.len() != 0 {
            return None;
        }
        Some(
            DESCRIPTOR_FLAGS
                .iter()
                .enumerate()
                .filter(|(bit, _)| bits & 1 << bit != 0)
                .fold(fs::DescriptorFlags::empty(), |flags, (_, flag)| {
                    flags | *flag
                }),
        )
    }
}

impl Wire for fs::Datetime {
    fn put(&self, out: &mut Vec<u8>) {
        self.seconds.put(out);
        self.nanoseconds.put(out);
    }
    fn get(input: &mut Reader<'_>) -> Option<fs::Datetime> {
        Some(fs::Datetime {
            seconds: u64::get(input)?,
            nanoseconds: u32::get(input)?,
        })
    }
}

impl Wire for fs::DescriptorStat {
    fn put(&self, out: &mut Vec<u8>) {
        self.type_.put(out);
        self.link_count.put(out);
        self.size.put(out);
        self.data_access_timestamp.put(out);
        self.data_modification_timestamp.put(out);
        self.status_change_timestamp.put(out);
    }
    fn get(input: &mut Reader<'_>) -> Option<fs::DescriptorStat> {
        Some(fs::DescriptorStat {
            type_: Wire::get(input)?,
            link_count: Wire::get(input)?,
            size: Wire::get(input)?,
            data_access_timestamp: Wire::get(input)?,
            data_modification_timestamp: Wire::get(input)?,
            status_change_timestamp: Wire::get(input)?,
        })
    }
}

impl Wire for fs::DirectoryEntry {
    fn put(&self, out: &mut Vec<u8>) {
        self.type_.put(out);
        self.name.put(out);
    }
    fn get(input: &mut Reader<'_>) -> Option<fs::DirectoryEntry> {
        Some(fs::DirectoryEntry {
            type_: Wire::get(input)?,
            name: Wire::get(input)?,
        })
    }
}

impl Wire for fs::MetadataHashValue {
    fn put(&self, out: &mut Vec<u8>) {
        self.lower.put(out);
        self.upper.put(out);
    }
    fn get(input: &mut Reader<'_>) -> Option<fs::MetadataHashValue> {
        Some(fs::MetadataHashValue {
            lower: Wire::get(input)?,
            upper: Wire::get(input)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The WASI records have no `PartialEq`: values compare by their
    /// `Debug` text and their encoding.
    fn round_trip<T: Wire + std::fmt::Debug>(value: T) {
        let bytes = encode(&value);
        let decoded = decode::<T>(&bytes).expect("decodes");
        assert_eq!(format!("{decoded:?}"), format!("{value:?}"));
        assert_eq!(encode(&decoded), bytes);
        // Any cut of it is rejected, never misread.
        for len in 0..bytes.len() {
            assert!(decode::<T>(&bytes[..len]).is_none(), "cut at {len}");
        }
    }

    #[test]
    fn filesystem_outcomes_round_trip() {
        round_trip(Ok::<_, fs::ErrorCode>(fs::DescriptorStat {
            type_: fs::DescriptorType::RegularFile,
            link_count: 1,
            size: 123_456,
            data_access_timestamp: None,
            data_modification_timestamp: Some(fs::Datetime {
                seconds: 1_790_000_000,
                nanoseconds: 999_999_999,
            }),
            status_change_timestamp: Some(fs::Datetime {
                seconds: 0,
                nanoseconds: 0,
            }),
        }));
        round_trip(Err::<fs::DescriptorStat, _>(fs::ErrorCode::NoEntry));
        round_trip(Err::<(), _>(fs::ErrorCode::CrossDevice));
        round_trip(Ok::<_, fs::ErrorCode>(
            fs::DescriptorFlags::READ | fs::DescriptorFlags::MUTATE_DIRECTORY,
        ));
        round_trip(Ok::<_, fs::ErrorCode>(Some(fs::DirectoryEntry {
            type_: fs::DescriptorType::Directory,
            name: "päckage".to_owned(),
        })));
        round_trip(vec!["/".to_owned(), "/data".to_owned()]);
        round_trip(Some(fs::ErrorCode::Access));
        round_trip(u64::MAX);
    }

    #[test]
    fn garbage_is_rejected() {
        assert!(decode::<Result<(), fs::ErrorCode>>(&[200]).is_none());
        assert!(decode::<fs::DescriptorType>(&[8]).is_none());
        assert!(decode::<Vec<String>>(&[0xff, 0xff, 0xff, 0x0f]).is_none());
        assert!(decode::<bool>(&[1, 0]).is_none(), "trailing bytes");
    }
}
