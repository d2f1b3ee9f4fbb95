//! A stream in pieces: checking a run of chunks that starts somewhere in a
//! recording, as a collector receives a live stream frame by frame, and
//! finding where the whole chunks of a growing file end, as a sender tails
//! one.

use crate::encoding::Cursor;
use crate::file::{Chunks, PREAMBLE, decode_header, kind};
use crate::model::Header;
use crate::{FormatError, MAGIC, VERSION};

/// What a checked frame holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameCheck {
    /// Whole chunks in the frame.
    pub chunks: u64,
    /// The recording's header, when the frame starts the recording.
    pub header: Option<Header>,
    /// Whether the frame ends with the recording's end chunk.
    pub ended: bool,
}

/// Checks `bytes` as the part of a recording that starts at byte `at`: the
/// preamble and header chunk first when `at` is 0, then whole chunks only,
/// each with its checksum, of a kind this version knows (or a skippable
/// one), and nothing after an end chunk. Offsets in errors count from the
/// start of the recording.
///
/// Only the framing is checked, not what the chunks say: a frame that
/// passes keeps the recording readable up to its end.
pub fn check_frame(bytes: &[u8], at: u64) -> Result<FrameCheck, FormatError> {
    let scan = scan(bytes, at);
    match scan.error {
        Some(err) => Err(err),
        None => Ok(FrameCheck {
            chunks: scan.chunks,
            header: scan.header,
            ended: scan.ended,
        }),
    }
}

/// How many of `bytes`, the part of a recording that starts at byte `at`,
/// are whole chunks (with the preamble and header when `at` is 0), and
/// whether they end the recording. A file being written can end in a chunk
/// still half-written: a sender sends up to here and waits for the rest.
pub fn whole_chunks(bytes: &[u8], at: u64) -> (usize, bool) {
    let scan = scan(bytes, at);
    (scan.whole, scan.ended)
}

struct Scan {
    whole: usize,
    chunks: u64,
    header: Option<Header>,
    ended: bool,
    error: Option<FormatError>,
}

fn scan(bytes: &[u8], at: u64) -> Scan {
    let mut scan = Scan {
        whole: 0,
        chunks: 0,
        header: None,
        ended: false,
        error: None,
    };
    let mut pos = 0;
    if at == 0 {
        if bytes.len() < PREAMBLE {
            scan.error = Some(FormatError::Truncated {
                offset: bytes.len() as u64,
                what: "preamble".into(),
            });
            return scan;
        }
        if bytes[..MAGIC.len()] != MAGIC {
            scan.error = Some(FormatError::NotARecording);
            return scan;
        }
        let version = u16::from_le_bytes([bytes[8], bytes[9]]);
        if version != VERSION {
            scan.error = Some(FormatError::Version { found: version });
            return scan;
        }
        pos = PREAMBLE;
    }
    let mut chunks = Chunks { bytes, pos };
    while let Some(chunk) = chunks.next() {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(err) => {
                scan.error = Some(shift(err, at));
                return scan;
            }
        };
        let offset = at + chunk.offset;
        let problem = if scan.ended {
            Some("a chunk after the end chunk".to_owned())
        } else if at == 0 && chunk.offset == PREAMBLE as u64 {
            match chunk.kind {
                kind::HEADER => {
                    match decode_header(&mut Cursor::new(chunk.payload, chunk.payload_offset)) {
                        Ok(header) => {
                            scan.header = Some(header);
                            None
                        }
                        Err(err) => {
                            scan.error = Some(shift(err, at));
                            return scan;
                        }
                    }
                }
                other => Some(format!("first chunk has kind {other:#04x}, not a header")),
            }
        } else {
            match chunk.kind {
                kind::HEADER => Some("a second header chunk".to_owned()),
                kind::END => {
                    scan.ended = true;
                    None
                }
                kind::STRINGS
                | kind::SOURCE
                | kind::INPUTS
                | kind::MARKERS
                | kind::CRASH
                | kind::EVENTS
                | kind::MATERIALIZED => None,
                skippable if skippable >= kind::FIRST_SKIPPABLE => None,
                unknown => Some(format!("unknown chunk kind {unknown:#04x}")),
            }
        };
        if let Some(what) = problem {
            scan.error = Some(FormatError::Corrupt { offset, what });
            return scan;
        }
        scan.chunks += 1;
        scan.whole = chunks.pos;
    }
    if at == 0 && scan.header.is_none() {
        scan.error = Some(FormatError::Truncated {
            offset: bytes.len() as u64,
            what: "header chunk".into(),
        });
    }
    scan
}

/// An error found in a frame, with its offset counted from the start of the
/// recording.
fn shift(err: FormatError, at: u64) -> FormatError {
    match err {
        FormatError::Truncated { offset, what } => FormatError::Truncated {
            offset: offset + at,
            what,
        },
        FormatError::Corrupt { offset, what } => FormatError::Corrupt {
            offset: offset + at,
            what,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Writer;
    use crate::model::{End, Input, Mode};

    fn header() -> Header {
        Header {
            recording_id: [1; 16],
            created_unix_ms: 5,
            guest_name: "python".into(),
            guest_digest: "sha256:00".into(),
            mode: Mode::Continuous,
            settings: Vec::new(),
        }
    }

    /// A recording in three frames: the start, some inputs, the end.
    fn frames() -> (Vec<u8>, usize, usize) {
        let mut writer = Writer::new(Vec::new(), &header()).unwrap();
        let start = writer.written() as usize;
        writer
            .inputs(0, 0, &[Input::MonotonicClock { nanos: 1 }])
            .unwrap();
        let middle = writer.written() as usize;
        let bytes = writer.end(&End { exit_code: Some(0) }).unwrap();
        (bytes, start, middle)
    }

    #[test]
    fn frames_of_a_stream_check_one_by_one() {
        let (bytes, start, middle) = frames();
        let first = check_frame(&bytes[..start], 0).unwrap();
        assert_eq!(first.header, Some(header()));
        assert_eq!((first.chunks, first.ended), (1, false));
        let second = check_frame(&bytes[start..middle], start as u64).unwrap();
        assert_eq!(
            (second.chunks, second.header, second.ended),
            (1, None, false)
        );
        let last = check_frame(&bytes[middle..], middle as u64).unwrap();
        assert!(last.ended);
        assert!(check_frame(&bytes, 0).unwrap().ended);
    }

    #[test]
    fn bad_frames_say_where() {
        let (bytes, start, middle) = frames();
        // Cut inside a chunk.
        let err = check_frame(&bytes[start..middle - 1], start as u64).unwrap_err();
        assert_eq!(err.offset(), Some(start as u64));
        // A flipped byte fails the checksum.
        let mut flipped = bytes[start..middle].to_vec();
        flipped[6] ^= 1;
        assert!(check_frame(&flipped, start as u64).is_err());
        // A frame that does not start the recording has no preamble...
        assert!(check_frame(&bytes[..start], 3).is_err());
        // ...and one that does must.
        assert_eq!(
            check_frame(&bytes[start..], 0),
            Err(FormatError::NotARecording)
        );
        // Nothing follows the end.
        let mut after = bytes[middle..].to_vec();
        after.extend_from_slice(&bytes[start..middle]);
        let err = check_frame(&after, middle as u64).unwrap_err();
        assert!(err.to_string().contains("after the end"), "{err}");
        assert!(check_frame(b"", 0).is_err());
        assert_eq!(check_frame(b"", 9).unwrap().chunks, 0);
    }

    #[test]
    fn a_growing_file_is_sent_up_to_its_last_whole_chunk() {
        let (bytes, start, middle) = frames();
        assert_eq!(whole_chunks(&bytes[..middle + 3], 0), (middle, false));
        assert_eq!(whole_chunks(&bytes[..start - 1], 0), (0, false));
        assert_eq!(whole_chunks(&bytes, 0), (bytes.len(), true));
        assert_eq!(
            whole_chunks(&bytes[start..], start as u64),
            (bytes.len() - start, true)
        );
    }
}
