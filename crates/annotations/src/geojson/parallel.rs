//! The fast path for big GeoJSON files: a FeatureCollection (or a bare
//! array of Features) read in blocks, each block's complete Features found
//! by a scan that only tracks strings and nesting, and parsed on every
//! core at once. Memory is bounded by the block, not the file.
//!
//! Anything this path does not expect — another top-level form, a broken
//! file, a Feature that does not parse — makes it step aside (`None`): the
//! serial reader then reads the file and says exactly what is wrong where.
//! A Feature holding QuPath's bare `NaN` is parsed again through
//! [`super::NanAsNull`] on its own.

use super::NanAsNull;
use super::read::feature_into;
use crate::error::Fault;
use crate::limits::Limits;
use crate::model::Annotations;
use std::io::Read;

/// Bytes read at a time.
const BLOCK: usize = 32 << 20;

/// The largest single Feature this path handles; a bigger one (a huge
/// outline) is left to the serial reader.
const MAX_FEATURE: usize = 64 << 20;

/// Read `r` as a FeatureCollection or array of Features; `None` when the
/// serial reader should read it instead.
pub fn annotations_from_big_geojson(
    mut r: impl Read,
    limits: &Limits,
) -> Option<Result<Annotations, Fault>> {
    let mut buf: Vec<u8> = Vec::new();
    let mut eof = false;
    fill(&mut r, &mut buf, &mut eof).ok()?;
    let mut pos = skip_ws(&buf, 0);
    // Find the features array's first element.
    let collection = match buf.get(pos)? {
        b'[' => {
            pos += 1;
            false
        }
        b'{' => {
            pos = find_features(&buf, pos + 1)?;
            true
        }
        _ => return None,
    };
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 16);
    let mut out = Annotations::default();
    let mut count = 0usize;
    let mut after = After::Start;
    loop {
        // Spans of the complete Features in the buffer.
        let mut spans = Vec::new();
        let mut closed = false;
        loop {
            pos = skip_ws(&buf, pos);
            // JSON's array grammar exactly: an element first or after a
            // comma, a comma or the end after an element.
            match (buf.get(pos), after) {
                (Some(b','), After::Element) => {
                    pos += 1;
                    after = After::Comma;
                    continue;
                }
                (Some(b']'), After::Start | After::Element) => {
                    closed = true;
                    pos += 1;
                    break;
                }
                (Some(b'{'), After::Start | After::Comma) => match element_end(&buf, pos) {
                    Some(end) => {
                        spans.push(pos..end);
                        pos = end;
                        after = After::Element;
                    }
                    None if eof => return None,
                    None if buf.len() - pos > MAX_FEATURE => return None,
                    None => break,
                },
                (Some(_), _) => return None,
                (None, _) => break,
            }
        }
        if count + spans.len() > limits.max_objects {
            return Some(Err(Fault::limit(format!(
                "more than {} objects in one file",
                limits.max_objects
            ))
            .in_object(limits.max_objects)));
        }
        if parse_spans(&buf, &spans, count, limits, threads, &mut out).is_err() {
            return None;
        }
        count += spans.len();
        if closed {
            // What follows the array must be the end of the document (or
            // the rest of the collection's keys): the serial reader checks
            // anything unusual.
            return match trailer_ok(&mut r, &buf[pos..], eof, collection) {
                true => Some(Ok(out)),
                false => None,
            };
        }
        if eof {
            return None;
        }
        buf.drain(..pos);
        pos = 0;
        fill(&mut r, &mut buf, &mut eof).ok()?;
    }
}

/// Up to another block of input; the buffer grows with what arrives
/// (a small file costs its size, not a zero-filled block).
/// Where the scan stands in the features array.
#[derive(Clone, Copy)]
enum After {
    Start,
    Element,
    Comma,
}

fn fill(r: &mut impl Read, buf: &mut Vec<u8>, eof: &mut bool) -> std::io::Result<()> {
    if *eof {
        return Ok(());
    }
    let n = r.by_ref().take(BLOCK as u64).read_to_end(buf)?;
    if n < BLOCK {
        *eof = true;
    }
    Ok(())
}

/// Parse Features on `threads` workers, each into its own set, joined in
/// file order; `Err` when one does not parse even leniently.
fn parse_spans(
    buf: &[u8],
    spans: &[std::ops::Range<usize>],
    first_index: usize,
    limits: &Limits,
    threads: usize,
    out: &mut Annotations,
) -> Result<(), ()> {
    let per = spans.len().div_ceil(threads).max(1);
    let parts: Vec<Result<Annotations, ()>> = std::thread::scope(|scope| {
        let handles: Vec<_> = spans
            .chunks(per)
            .enumerate()
            .map(|(k, chunk)| {
                scope.spawn(move || {
                    let mut a = Annotations::default();
                    for (j, span) in chunk.iter().enumerate() {
                        let index = first_index + k * per + j;
                        let bytes = &buf[span.clone()];
                        a = match feature_into(bytes, a, limits, index) {
                            Ok(a) => a,
                            Err(failed) => {
                                let (a, _) = *failed;
                                // QuPath's bare NaN: once more, leniently.
                                let mut clean = Vec::with_capacity(bytes.len() + 16);
                                NanAsNull::new(bytes)
                                    .read_to_end(&mut clean)
                                    .map_err(|_| ())?;
                                feature_into(&clean, a, limits, index).map_err(|_| ())?
                            }
                        };
                    }
                    Ok(a)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(Err(())))
            .collect()
    });
    for part in parts {
        out.append(part?);
    }
    Ok(())
}

/// JSON's whitespace: exactly these four (not form feed or vertical tab,
/// which `is_ascii_whitespace` and `char::is_whitespace` would let
/// through; the differential fuzz target caught that).
fn is_json_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn skip_ws(buf: &[u8], mut pos: usize) -> usize {
    while pos < buf.len() && is_json_ws(buf[pos]) {
        pos += 1;
    }
    pos
}

/// The end (exclusive) of the JSON object or array starting at `start`,
/// or `None` if the buffer ends first. Only braces (or only brackets, for
/// an array) and strings matter for where it ends, so the scan jumps from
/// one to the next with memchr and never looks at the numbers between.
fn element_end(buf: &[u8], start: usize) -> Option<usize> {
    let (open, close) = match buf.get(start)? {
        b'{' => (b'{', b'}'),
        b'[' => (b'[', b']'),
        _ => return None,
    };
    let mut depth = 0usize;
    let mut i = start;
    loop {
        i += memchr::memchr3(b'"', open, close, buf.get(i..)?)?;
        match buf[i] {
            b'"' => {
                // To the closing quote, stepping over escapes.
                i += 1;
                loop {
                    i += memchr::memchr2(b'"', b'\\', buf.get(i..)?)?;
                    if buf[i] == b'\\' {
                        i += 2;
                    } else {
                        break;
                    }
                }
            }
            b if b == open => depth += 1,
            _ => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
        }
        i += 1;
    }
}

/// In a top-level object, the position just inside its "features" array;
/// every other key and value before it is checked by serde_json itself
/// (so the fast path accepts exactly what the serial reader does). `None`
/// for anything unexpected.
fn find_features(buf: &[u8], mut pos: usize) -> Option<usize> {
    let mut first = true;
    loop {
        pos = skip_ws(buf, pos);
        if !first {
            if buf.get(pos)? != &b',' {
                return None;
            }
            pos = skip_ws(buf, pos + 1);
        }
        first = false;
        if buf.get(pos)? != &b'"' {
            return None;
        }
        let key_end = pos + 1 + buf.get(pos + 1..)?.iter().position(|&b| b == b'"')?;
        let key = buf.get(pos + 1..key_end)?;
        // Plain keys only: escapes and control characters go the slow way.
        if key.iter().any(|&b| b < 0x20 || b == b'\\') || std::str::from_utf8(key).is_err() {
            return None;
        }
        pos = skip_ws(buf, key_end + 1);
        if buf.get(pos)? != &b':' {
            return None;
        }
        pos = skip_ws(buf, pos + 1);
        if key == b"features" {
            return (buf.get(pos)? == &b'[').then_some(pos + 1);
        }
        let end = match buf.get(pos)? {
            b'{' | b'[' => element_end(buf, pos)?,
            _ => {
                pos + buf
                    .get(pos..)?
                    .iter()
                    .position(|&b| b == b',' || b == b'}')?
            }
        };
        let value = buf.get(pos..end)?;
        if key == b"type" {
            // Only a FeatureCollection has features to find.
            if serde_json::from_slice::<String>(value).ok()? != "FeatureCollection" {
                return None;
            }
        } else if serde_json::from_slice::<serde::de::IgnoredAny>(value).is_err() {
            return None;
        }
        pos = end;
    }
}

/// After the features array: `}` for a collection (maybe after its "type"
/// key), nothing for a bare array; whitespace only as JSON counts it.
fn trailer_ok(r: &mut impl Read, rest: &[u8], eof: bool, collection: bool) -> bool {
    let mut tail = rest.to_vec();
    if !eof {
        // A trailer is short; a long one is not a QuPath file.
        let mut more = Vec::new();
        if r.take(4096).read_to_end(&mut more).is_err() {
            return false;
        }
        tail.extend(more);
    }
    let t: Vec<u8> = tail.into_iter().filter(|&b| !is_json_ws(b)).collect();
    if collection {
        matches!(t.as_slice(), b"}" | b",\"type\":\"FeatureCollection\"}")
    } else {
        t.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: &str = r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{"name":"a \"}\" b","classification":{"name":"T","color":[1,2,3]}}}"#;

    #[test]
    fn collections_and_arrays_read_in_parallel_in_file_order() {
        let many: Vec<String> = (0..1000)
            .map(|i| F.replace("[1,2]", &format!("[{i},2]")))
            .collect();
        for doc in [
            format!(
                r#"{{"type":"FeatureCollection","features":[{}]}}"#,
                many.join(",")
            ),
            format!(
                r#"{{"crs":{{"x":[1,{{}}]}},"features":[{}],"type":"FeatureCollection"}}"#,
                many.join(",\n")
            ),
            format!("[{}]", many.join(",")),
        ] {
            let a = annotations_from_big_geojson(doc.as_bytes(), &Limits::default())
                .expect("the fast path takes it")
                .unwrap();
            assert_eq!(a.objects.len(), 1000);
            for (i, o) in a.objects.iter().enumerate() {
                assert_eq!(o.geometry.bounds().unwrap().min_x, i as f64);
                assert_eq!(a.class(o.class.unwrap()).name, "T");
                assert_eq!(o.name.as_deref(), Some("a \"}\" b"));
            }
        }
    }

    #[test]
    fn anything_unusual_is_left_to_the_serial_reader() {
        for doc in [
            F.to_owned(),
            format!("[{F},{F}"),
            format!("[{F},{F}]]"),
            format!("[{F},3]"),
            r#"{"type":"Feature","features":[]}"#.to_owned(),
            format!("[{}]", F.replace("[1,2]", "[1,\"x\"]")),
            // Found by the fuzz target: a vertical tab after the array, a
            // control character in a key, commas JSON does not allow.
            "\r[\r\t]\n\n\u{b}".to_owned(),
            format!("{{\"type\u{0}\":\"FeatureCollection\",\"features\":[{F}]}}"),
            format!("[,{F}]"),
            format!("[{F},]"),
            format!("[{F},,{F}]"),
            format!("{{\"bbox\":[1,}},\"features\":[{F}]}}"),
        ] {
            assert!(
                annotations_from_big_geojson(doc.as_bytes(), &Limits::default()).is_none(),
                "{doc}"
            );
        }
        // QuPath's NaN is read here too.
        let nan = format!(
            "[{}]",
            F.replace("\"name\":\"a", "\"measurements\":{\"x\":NaN},\"name\":\"a")
        );
        let a = annotations_from_big_geojson(nan.as_bytes(), &Limits::default())
            .unwrap()
            .unwrap();
        assert!(a.measurement(&a.objects[0], "x").unwrap().is_nan());
    }
}
