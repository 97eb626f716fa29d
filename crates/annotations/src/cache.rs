//! A compact binary copy of an annotation set, so that opening the same
//! file again takes a read of flat records instead of a parse: a million
//! detections come back in a fraction of a second.
//!
//! Layout (little-endian): the magic `KHANN` and a version; the source's
//! size and modification time (a cache for another version of the file is
//! refused); the shared tables (classes, measurement names, provenances);
//! then the objects in blocks of [`BLOCK`] with a directory of their byte
//! ranges, so blocks decode on every core. Every count and length is
//! checked against [`Limits`] and against the bytes left before anything
//! is allocated: a damaged or hostile cache is an error, never a crash.

use crate::error::Fault;
use crate::limits::Limits;
use crate::model::{Annotations, Colour, Geometry, Kind, Object, Point, Polygon, Provenance};

const MAGIC: &[u8; 8] = b"KHANN\0\0\x02";
/// Objects per block (the unit decoded by one worker).
const BLOCK: usize = 1 << 16;

/// What the cache was made from: a cache is used only for the same size
/// and modification time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceStamp {
    pub bytes: u64,
    pub modified_ns: u64,
}

impl SourceStamp {
    pub fn of(path: &std::path::Path) -> std::io::Result<SourceStamp> {
        let meta = std::fs::metadata(path)?;
        let modified_ns = meta
            .modified()?
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        Ok(SourceStamp {
            bytes: meta.len(),
            modified_ns,
        })
    }
}

/// The cache's file name for a source: a hash of its absolute path (two
/// files never share a cache; a stale one is refused by its stamp).
pub fn file_name(source: &std::path::Path) -> String {
    use std::hash::{Hash, Hasher};
    let absolute = std::fs::canonicalize(source).unwrap_or_else(|_| source.to_path_buf());
    let mut h = std::collections::hash_map::DefaultHasher::new();
    absolute.hash(&mut h);
    format!("{:016x}.khann", h.finish())
}

/// The user's cache folder for annotation caches: `$XDG_CACHE_HOME`,
/// `~/.cache` or `%LOCALAPPDATA%`, then `kakehashi/annotations`.
pub fn default_dir() -> Option<std::path::PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cache")))
        .or_else(|| std::env::var_os("LOCALAPPDATA").map(std::path::PathBuf::from))?;
    Some(base.join("kakehashi").join("annotations"))
}

/// Write a cache atomically (a temporary file in the folder, renamed), the
/// folder made private to the user first: annotation names can carry
/// patient data.
pub fn write_cache(
    path: &std::path::Path,
    a: &Annotations,
    stamp: SourceStamp,
) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    let mut tmp = tempfile::Builder::new()
        .prefix(".khann-")
        .tempfile_in(dir)?;
    std::io::Write::write_all(&mut tmp, &cache_from_annotations(a, stamp))?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

pub fn cache_from_annotations(a: &Annotations, stamp: SourceStamp) -> Vec<u8> {
    let mut w = Vec::with_capacity(64 + a.objects.len() * 64);
    w.extend_from_slice(MAGIC);
    w.extend_from_slice(&stamp.bytes.to_le_bytes());
    w.extend_from_slice(&stamp.modified_ns.to_le_bytes());
    put_u32(&mut w, a.classes().len() as u32);
    for c in a.classes() {
        put_str(&mut w, &c.name);
        put_colour(&mut w, c.colour);
    }
    put_u32(&mut w, a.measurement_names().len() as u32);
    for n in a.measurement_names() {
        put_str(&mut w, n);
    }
    let provenances: Vec<&Provenance> = (0..).map_while(|i| a.provenance_checked(i)).collect();
    put_u32(&mut w, provenances.len() as u32);
    for p in provenances {
        match p {
            Provenance::Unknown => w.push(0),
            Provenance::Person {
                name,
                when,
                edited_from,
            } => {
                w.push(1);
                put_str(&mut w, name);
                put_str(&mut w, when.as_deref().unwrap_or(""));
                put_str(&mut w, edited_from.as_deref().unwrap_or(""));
            }
            Provenance::Algorithm {
                name,
                version,
                when,
            } => {
                w.push(2);
                put_str(&mut w, name);
                put_str(&mut w, version);
                put_str(&mut w, when.as_deref().unwrap_or(""));
            }
        }
    }
    // Blocks: encoded apart, then a directory, then the blocks.
    let blocks: Vec<Vec<u8>> = a
        .objects
        .chunks(BLOCK)
        .map(|chunk| {
            let mut b = Vec::with_capacity(chunk.len() * 64);
            for o in chunk {
                put_object(&mut b, o);
            }
            b
        })
        .collect();
    put_u64(&mut w, a.objects.len() as u64);
    put_u32(&mut w, blocks.len() as u32);
    for b in &blocks {
        put_u64(&mut w, b.len() as u64);
    }
    for b in blocks {
        w.extend_from_slice(&b);
    }
    w
}

/// Decode a cache made from a source with `stamp`, held in memory.
pub fn annotations_from_cache(
    bytes: &[u8],
    stamp: SourceStamp,
    limits: &Limits,
) -> Result<Annotations, Fault> {
    let head = header(bytes, bytes.len(), stamp, limits)?;
    decode(head, &Blocks::Memory(bytes), limits)
}

/// Decode the cache file at `path`: its header read first, then each
/// worker reads its own blocks straight from the file and decodes them,
/// so reading overlaps decoding and the file is never held whole.
pub fn annotations_from_cache_file(
    path: &std::path::Path,
    stamp: SourceStamp,
    limits: &Limits,
) -> Result<Annotations, Fault> {
    let file = std::fs::File::open(path).map_err(|e| Fault::io(&e))?;
    let len = file.metadata().map_err(|e| Fault::io(&e))?.len();
    let len = usize::try_from(len).map_err(|_| Fault::limit("the cache is too large"))?;
    // The header (tables and block directory) is usually a few kilobytes.
    let mut want = (1usize << 16).min(len);
    loop {
        let mut prefix = vec![0u8; want];
        read_exact_at(&file, 0, &mut prefix).map_err(|e| Fault::io(&e))?;
        match header(&prefix, len, stamp, limits) {
            Ok(head) => return decode(head, &Blocks::File(&file), limits),
            // Cut short by the prefix, a count or a string seems broken:
            // read more (a header broken in truth fails on the whole file).
            Err(f) if f.kind == crate::ErrorKind::Corrupt && want < len => {
                want = want.saturating_mul(8).min(len);
            }
            Err(f) => return Err(f),
        }
    }
}

/// What [`header`] found: the shared tables (in an empty set), the object
/// count, and each block's byte range in the cache.
struct Header {
    out: Annotations,
    tables: (u32, u32, u32),
    objects: usize,
    spans: Vec<std::ops::Range<usize>>,
}

/// Read the header from `bytes` (the cache's start; `total` bytes in all).
fn header(
    bytes: &[u8],
    total: usize,
    stamp: SourceStamp,
    limits: &Limits,
) -> Result<Header, Fault> {
    let mut r = Reader {
        bytes,
        pos: 0,
        limits,
    };
    if r.take(8)? != MAGIC {
        return Err(Fault::unsupported(
            "not a Kakehashi annotation cache (or another version)",
        ));
    }
    let made_from = SourceStamp {
        bytes: r.u64()?,
        modified_ns: r.u64()?,
    };
    if made_from != stamp {
        return Err(Fault::unsupported(
            "the cache was made from another version of the file",
        ));
    }
    let mut out = Annotations::default();
    let classes = r.count(limits.max_objects, 9)?;
    for _ in 0..classes {
        let name = r.string()?;
        let colour = r.colour()?;
        out.class_id(&name, colour);
    }
    let names = r.count(limits.max_objects, 4)?;
    for _ in 0..names {
        let name = r.string()?;
        out.measurement_id(&name);
    }
    let provenances = r.count(limits.max_objects, 1)?;
    for i in 0..provenances {
        let p = match r.u8()? {
            0 => Provenance::Unknown,
            1 => Provenance::Person {
                name: r.string()?,
                when: Some(r.string()?).filter(|s| !s.is_empty()),
                edited_from: Some(r.string()?).filter(|s| !s.is_empty()),
            },
            2 => Provenance::Algorithm {
                name: r.string()?,
                version: r.string()?,
                when: Some(r.string()?).filter(|s| !s.is_empty()),
            },
            k => {
                return Err(Fault::corrupt(format!(
                    "provenance {i} of unknown kind {k}"
                )));
            }
        };
        out.provenance_id(p);
    }
    // The tables as built (a hostile cache's duplicates collapse), so no
    // object can point past them.
    let tables = (
        out.classes().len() as u32,
        out.measurement_names().len() as u32,
        (0..).map_while(|i| out.provenance_checked(i)).count() as u32,
    );
    let objects = r.u64()? as usize;
    if objects > limits.max_objects {
        return Err(Fault::limit(format!(
            "{objects} objects, more than {}",
            limits.max_objects
        )));
    }
    let blocks = r.count(objects.div_ceil(BLOCK) + 1, 8)?;
    if blocks != objects.div_ceil(BLOCK) {
        return Err(Fault::corrupt(format!(
            "{blocks} blocks for {objects} objects"
        )));
    }
    let mut spans = Vec::with_capacity(blocks);
    let mut at = r.pos + blocks * 8;
    for _ in 0..blocks {
        let len = r.u64()? as usize;
        let end = at
            .checked_add(len)
            .filter(|&e| e <= total)
            .ok_or_else(|| Fault::corrupt("a block reaches past the end of the cache"))?;
        spans.push(at..end);
        at = end;
    }
    Ok(Header {
        out,
        tables,
        objects,
        spans,
    })
}

/// Where blocks come from: the cache in memory, or its file.
enum Blocks<'a> {
    Memory(&'a [u8]),
    File(&'a std::fs::File),
}

impl Blocks<'_> {
    /// The bytes of one block (read into `buf` from a file).
    fn block<'b>(
        &'b self,
        span: std::ops::Range<usize>,
        buf: &'b mut Vec<u8>,
    ) -> Result<&'b [u8], Fault> {
        match self {
            Blocks::Memory(bytes) => Ok(&bytes[span]),
            Blocks::File(file) => {
                buf.resize(span.len(), 0);
                read_exact_at(file, span.start as u64, buf).map_err(|e| Fault::io(&e))?;
                Ok(buf)
            }
        }
    }
}

fn read_exact_at(file: &std::fs::File, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
    }
    #[cfg(windows)]
    {
        let (mut offset, mut buf) = (offset, buf);
        while !buf.is_empty() {
            match std::os::windows::fs::FileExt::seek_read(file, buf, offset)? {
                0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                n => {
                    buf = &mut buf[n..];
                    offset += n as u64;
                }
            }
        }
        Ok(())
    }
}

/// The blocks decoded on every core, in order.
fn decode(head: Header, blocks: &Blocks, limits: &Limits) -> Result<Annotations, Fault> {
    let Header {
        mut out,
        tables,
        objects,
        spans,
    } = head;
    let blocks_n = spans.len();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 16);
    let per = blocks_n.div_ceil(threads).max(1);
    let decoded: Vec<Result<Vec<Object>, Fault>> = std::thread::scope(|scope| {
        let handles: Vec<_> = spans
            .chunks(per)
            .enumerate()
            .map(|(k, run)| {
                scope.spawn(move || {
                    let mut decoded = Vec::new();
                    let mut buf = Vec::new();
                    for (j, span) in run.iter().enumerate() {
                        let first = (k * per + j) * BLOCK;
                        let n = BLOCK.min(objects - first);
                        let mut br = Reader {
                            bytes: blocks.block(span.clone(), &mut buf)?,
                            pos: 0,
                            limits,
                        };
                        for i in 0..n {
                            decoded.push(br.object(tables).map_err(|f| f.in_object(first + i))?);
                        }
                    }
                    Ok(decoded)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Fault::corrupt("a cache block failed")))
            })
            .collect()
    });
    // The first worker's objects become the set's (no copy of them).
    let mut parts = decoded.into_iter();
    if let Some(first) = parts.next() {
        out.objects = first?;
        out.objects
            .reserve(objects.saturating_sub(out.objects.len()));
    }
    for d in parts {
        out.objects.extend(d?);
    }
    if out.objects.len() != objects {
        return Err(Fault::corrupt(format!(
            "{} objects decoded, {objects} declared",
            out.objects.len()
        )));
    }
    Ok(out)
}

fn put_u32(w: &mut Vec<u8>, v: u32) {
    w.extend_from_slice(&v.to_le_bytes());
}
fn put_u64(w: &mut Vec<u8>, v: u64) {
    w.extend_from_slice(&v.to_le_bytes());
}
fn put_str(w: &mut Vec<u8>, s: &str) {
    put_u32(w, s.len() as u32);
    w.extend_from_slice(s.as_bytes());
}
fn put_colour(w: &mut Vec<u8>, c: Option<Colour>) {
    match c {
        None => w.extend_from_slice(&[0, 0, 0, 0, 0]),
        Some(c) => w.extend_from_slice(&[1, c.r, c.g, c.b, c.a]),
    }
}
fn put_points(w: &mut Vec<u8>, ps: &[Point]) {
    put_u32(w, ps.len() as u32);
    for p in ps {
        w.extend_from_slice(&p.x.to_le_bytes());
        w.extend_from_slice(&p.y.to_le_bytes());
    }
}
fn put_polygon(w: &mut Vec<u8>, p: &Polygon) {
    put_points(w, &p.exterior);
    put_u32(w, p.holes.len() as u32);
    for h in &p.holes {
        put_points(w, h);
    }
}
fn put_geometry(w: &mut Vec<u8>, g: &Geometry) {
    match g {
        Geometry::Point(p) => {
            w.push(0);
            put_points(w, &[*p]);
        }
        Geometry::MultiPoint(ps) => {
            w.push(1);
            put_points(w, ps);
        }
        Geometry::Polyline(ps) => {
            w.push(2);
            put_points(w, ps);
        }
        Geometry::MultiPolyline(ls) => {
            w.push(3);
            put_u32(w, ls.len() as u32);
            for l in ls {
                put_points(w, l);
            }
        }
        Geometry::Polygon(p) => {
            w.push(4);
            put_polygon(w, p);
        }
        Geometry::MultiPolygon(ps) => {
            w.push(5);
            put_u32(w, ps.len() as u32);
            for p in ps {
                put_polygon(w, p);
            }
        }
        Geometry::Rectangle(c) => {
            w.push(6);
            put_points(w, &c[..]);
        }
        Geometry::Ellipse(c) => {
            w.push(7);
            put_points(w, &c[..]);
        }
    }
}

fn put_object(w: &mut Vec<u8>, o: &Object) {
    let kind = match o.kind {
        Kind::Annotation => 0,
        Kind::Detection => 1,
        Kind::Cell => 2,
        Kind::Tile => 3,
    };
    let flags = u8::from(o.locked)
        | u8::from(o.nucleus.is_some()) << 1
        | u8::from(o.class.is_some()) << 2
        | u8::from(o.id.is_some()) << 3
        | u8::from(o.name.is_some()) << 4;
    w.push(kind);
    w.push(flags);
    put_u32(w, o.class.unwrap_or(0));
    put_colour(w, o.colour);
    put_u32(w, o.provenance);
    if let Some(id) = &o.id {
        put_str(w, id);
    }
    if let Some(name) = &o.name {
        put_str(w, name);
    }
    put_geometry(w, &o.geometry);
    if let Some(n) = &o.nucleus {
        put_geometry(w, n);
    }
    put_u32(w, o.measurements.len() as u32);
    for (name, value) in &o.measurements {
        put_u32(w, *name);
        w.extend_from_slice(&value.to_le_bytes());
    }
}

struct Reader<'b, 'l> {
    bytes: &'b [u8],
    pos: usize,
    limits: &'l Limits,
}

impl<'b> Reader<'b, '_> {
    fn take(&mut self, n: usize) -> Result<&'b [u8], Fault> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| Fault::corrupt("the cache ends early"))?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, Fault> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, Fault> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, Fault> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    fn f64(&mut self) -> Result<f64, Fault> {
        Ok(f64::from_bits(self.u64()?))
    }
    /// A count of items at least `min_bytes` each: checked against the
    /// bytes left and `max` before anything is sized by it.
    fn count(&mut self, max: usize, min_bytes: usize) -> Result<usize, Fault> {
        let n = self.u32()? as usize;
        if n > max || n.saturating_mul(min_bytes) > self.bytes.len() - self.pos {
            return Err(Fault::corrupt(format!(
                "a count of {n} the cache cannot hold"
            )));
        }
        Ok(n)
    }
    fn string(&mut self) -> Result<String, Fault> {
        let n = self.count(self.limits.max_text_bytes, 1)?;
        String::from_utf8(self.take(n)?.to_vec())
            .map_err(|_| Fault::corrupt("text that is not UTF-8"))
    }
    fn colour(&mut self) -> Result<Option<Colour>, Fault> {
        let b = self.take(5)?;
        Ok((b[0] == 1).then(|| Colour {
            r: b[1],
            g: b[2],
            b: b[3],
            a: b[4],
        }))
    }
    fn points(&mut self, budget: &mut usize) -> Result<Vec<Point>, Fault> {
        let n = self.count(*budget, 16)?;
        *budget -= n;
        let mut ps = Vec::with_capacity(n);
        for _ in 0..n {
            let (x, y) = (self.f64()?, self.f64()?);
            ps.push(self.limits.point(x, y)?);
        }
        Ok(ps)
    }
    fn polygon(&mut self, budget: &mut usize) -> Result<Polygon, Fault> {
        let exterior = self.points(budget)?;
        let holes = self.count(*budget, 4)?;
        let mut p = Polygon {
            exterior,
            holes: Vec::with_capacity(holes),
        };
        for _ in 0..holes {
            p.holes.push(self.points(budget)?);
        }
        Ok(p)
    }
    fn corners(&mut self, budget: &mut usize) -> Result<[Point; 4], Fault> {
        let ps = self.points(budget)?;
        <[Point; 4]>::try_from(ps)
            .map_err(|_| Fault::corrupt("a rectangle or ellipse without four points"))
    }
    fn geometry(&mut self, budget: &mut usize) -> Result<Geometry, Fault> {
        Ok(match self.u8()? {
            0 => {
                let ps = self.points(budget)?;
                Geometry::Point(
                    *ps.first()
                        .ok_or_else(|| Fault::corrupt("a point without a position"))?,
                )
            }
            1 => Geometry::MultiPoint(self.points(budget)?),
            2 => Geometry::Polyline(self.points(budget)?),
            3 => {
                let n = self.count(*budget, 4)?;
                let mut ls = Vec::with_capacity(n);
                for _ in 0..n {
                    ls.push(self.points(budget)?);
                }
                Geometry::MultiPolyline(ls)
            }
            4 => Geometry::Polygon(self.polygon(budget)?),
            5 => {
                let n = self.count(*budget, 8)?;
                let mut ps = Vec::with_capacity(n);
                for _ in 0..n {
                    ps.push(self.polygon(budget)?);
                }
                Geometry::MultiPolygon(ps)
            }
            6 => Geometry::Rectangle(Box::new(self.corners(budget)?)),
            7 => Geometry::Ellipse(Box::new(self.corners(budget)?)),
            k => return Err(Fault::corrupt(format!("a geometry of unknown kind {k}"))),
        })
    }
    fn object(&mut self, (classes, names, provenances): (u32, u32, u32)) -> Result<Object, Fault> {
        let kind = match self.u8()? {
            0 => Kind::Annotation,
            1 => Kind::Detection,
            2 => Kind::Cell,
            3 => Kind::Tile,
            k => return Err(Fault::corrupt(format!("an object of unknown kind {k}"))),
        };
        let flags = self.u8()?;
        let class = self.u32()?;
        let colour = self.colour()?;
        let provenance = self.u32()?;
        if (flags & 4 != 0 && class >= classes) || provenance >= provenances.max(1) {
            return Err(Fault::corrupt(
                "an object refers to a class or provenance not in the cache",
            ));
        }
        let id = if flags & 8 != 0 {
            Some(self.string()?.into_boxed_str())
        } else {
            None
        };
        let name = if flags & 16 != 0 {
            Some(self.string()?.into_boxed_str())
        } else {
            None
        };
        let mut budget = self.limits.max_vertices_per_object;
        let geometry = self.geometry(&mut budget)?;
        let nucleus = if flags & 2 != 0 {
            Some(Box::new(self.geometry(&mut budget)?))
        } else {
            None
        };
        let n = self.count(self.limits.max_measurements_per_object, 12)?;
        let mut measurements = Vec::with_capacity(n);
        for _ in 0..n {
            let id = self.u32()?;
            if id >= names {
                return Err(Fault::corrupt("a measurement name not in the cache"));
            }
            measurements.push((id, self.f64()?));
        }
        Ok(Object {
            kind,
            geometry,
            nucleus,
            id,
            name,
            class: (flags & 4 != 0).then_some(class),
            colour,
            locked: flags & 1 != 0,
            measurements,
            provenance,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(n: usize) -> Annotations {
        let mut a = Annotations::default();
        let tumour = a.class_id("Tumor", Some(Colour::rgb(200, 0, 0)));
        let area = a.measurement_id("Area");
        let ai = a.provenance_id(Provenance::Algorithm {
            name: "nuclei".into(),
            version: "1".into(),
            when: None,
        });
        for i in 0..n {
            let x = i as f64 * 3.5;
            let mut o = Object::new(
                Kind::Cell,
                Geometry::Polygon(Polygon {
                    exterior: vec![
                        Point::new(x, 0.0),
                        Point::new(x + 2.0, 0.0),
                        Point::new(x, 2.0),
                    ],
                    holes: vec![],
                }),
            );
            o.nucleus = Some(Box::new(Geometry::Ellipse(Box::new(
                [Point::new(x, 1.0); 4],
            ))));
            o.class = (i % 2 == 0).then_some(tumour);
            o.measurements = vec![(area, i as f64 + 0.25)];
            o.provenance = ai;
            o.name = (i % 3 == 0).then(|| format!("c{i}").into_boxed_str());
            a.objects.push(o);
        }
        a.objects.push(Object::new(
            Kind::Annotation,
            Geometry::MultiPolyline(vec![vec![Point::new(1.0, 2.0); 2]; 2]),
        ));
        a
    }

    const STAMP: SourceStamp = SourceStamp {
        bytes: 123,
        modified_ns: 456,
    };

    #[test]
    fn a_cache_gives_back_exactly_what_was_put_in_across_blocks() {
        let a = sample(BLOCK * 2 + 10);
        let bytes = cache_from_annotations(&a, STAMP);
        let b = annotations_from_cache(&bytes, STAMP, &Limits::default()).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn a_cache_file_reads_as_the_cache_in_memory_does() {
        let a = sample(BLOCK * 2 + 10);
        let bytes = cache_from_annotations(&a, STAMP);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.khann");
        std::fs::write(&path, &bytes).unwrap();
        let b = annotations_from_cache_file(&path, STAMP, &Limits::default()).unwrap();
        assert_eq!(a, b);
        // Cut short anywhere (the header itself included): an error.
        for cut in [0, 7, 30, 200, bytes.len() / 2, bytes.len() - 1] {
            std::fs::write(&path, &bytes[..cut]).unwrap();
            assert!(annotations_from_cache_file(&path, STAMP, &Limits::default()).is_err());
        }
        assert!(
            annotations_from_cache_file(&dir.path().join("none"), STAMP, &Limits::default())
                .is_err()
        );
    }

    #[test]
    fn a_stale_damaged_or_hostile_cache_is_an_error() {
        let a = sample(100);
        let bytes = cache_from_annotations(&a, STAMP);
        let other = SourceStamp {
            bytes: 124,
            ..STAMP
        };
        assert!(annotations_from_cache(&bytes, other, &Limits::default()).is_err());
        // Cut anywhere: an error, never a panic.
        for cut in (0..bytes.len()).step_by(97) {
            assert!(annotations_from_cache(&bytes[..cut], STAMP, &Limits::default()).is_err());
        }
        // Every byte flipped in turn: an error or a set within the limits.
        for i in (0..bytes.len()).step_by(13) {
            let mut bad = bytes.clone();
            bad[i] ^= 0xff;
            let _ = annotations_from_cache(&bad, STAMP, &Limits::default());
        }
        // A count of 2^32 - 1 points is refused before it is allocated.
        let mut huge = bytes.clone();
        let at = huge.len() - 20;
        huge[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        let _ = annotations_from_cache(&huge, STAMP, &Limits::default());
    }
}
