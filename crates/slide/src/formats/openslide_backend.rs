//! Formats only OpenSlide reads (MIRAX, Hamamatsu VMS/VMU, Leica SCN,
//! Ventana BIF, Sakura, Zeiss CZI, Trestle), through the system OpenSlide
//! library, loaded at run time: no build-time dependency, and a clear error
//! naming the format when the library is absent.
//!
//! Library search: `$KH_OPENSLIDE_LIB`, then `libopenslide.so.1` (4.x),
//! `libopenslide.so.0` (3.4), and the macOS/Windows names.

use crate::error::{ErrorKind, Fault, FaultResult};
use crate::{AssociatedSource, Grid, LevelSource, Opened, RgbaImage};
use std::collections::BTreeMap;
use std::ffi::{CStr, CString, c_char, c_void};
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// Whether formats only OpenSlide reads may be opened through the system
/// OpenSlide library.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendPolicy {
    IfInstalled,
    Never,
}

type Osr = *mut c_void;

struct Api {
    _lib: libloading::Library,
    open: unsafe extern "C" fn(*const c_char) -> Osr,
    close: unsafe extern "C" fn(Osr),
    get_error: unsafe extern "C" fn(Osr) -> *const c_char,
    level_count: unsafe extern "C" fn(Osr) -> i32,
    level_dimensions: unsafe extern "C" fn(Osr, i32, *mut i64, *mut i64),
    level_downsample: unsafe extern "C" fn(Osr, i32) -> f64,
    property_names: unsafe extern "C" fn(Osr) -> *const *const c_char,
    property_value: unsafe extern "C" fn(Osr, *const c_char) -> *const c_char,
    associated_names: unsafe extern "C" fn(Osr) -> *const *const c_char,
    associated_dimensions: unsafe extern "C" fn(Osr, *const c_char, *mut i64, *mut i64),
    read_associated: unsafe extern "C" fn(Osr, *const c_char, *mut u32),
    read_region: unsafe extern "C" fn(Osr, *mut u32, i64, i64, i32, i64, i64),
    pub library: String,
}

fn candidates() -> Vec<String> {
    let mut v = Vec::new();
    if let Ok(p) = std::env::var("KH_OPENSLIDE_LIB") {
        v.push(p);
    }
    v.extend(
        [
            "libopenslide.so.1",
            "libopenslide.so.0",
            "libopenslide.1.dylib",
            "libopenslide.0.dylib",
            "libopenslide-1.dll",
            "libopenslide-0.dll",
        ]
        .map(String::from),
    );
    v
}

fn load() -> Result<Api, String> {
    let mut tried = Vec::new();
    for name in candidates() {
        // SAFETY: loading a shared library runs its initialisers; OpenSlide's
        // only register glib types. The names are OpenSlide's own.
        let lib = match unsafe { libloading::Library::new(&name) } {
            Ok(l) => l,
            Err(e) => {
                tried.push(format!("{name} ({e})"));
                continue;
            }
        };
        macro_rules! sym {
            ($n:literal) => {
                // SAFETY: the symbol types below are those of OpenSlide's
                // public C API (openslide.h, stable since 3.0).
                *unsafe { lib.get(concat!($n, "\0").as_bytes()) }
                    .map_err(|e| format!("{name}: missing {}: {e}", $n))?
            };
        }
        let api = Api {
            open: sym!("openslide_open"),
            close: sym!("openslide_close"),
            get_error: sym!("openslide_get_error"),
            level_count: sym!("openslide_get_level_count"),
            level_dimensions: sym!("openslide_get_level_dimensions"),
            level_downsample: sym!("openslide_get_level_downsample"),
            property_names: sym!("openslide_get_property_names"),
            property_value: sym!("openslide_get_property_value"),
            associated_names: sym!("openslide_get_associated_image_names"),
            associated_dimensions: sym!("openslide_get_associated_image_dimensions"),
            read_associated: sym!("openslide_read_associated_image"),
            read_region: sym!("openslide_read_region"),
            library: name.clone(),
            _lib: lib,
        };
        return Ok(api);
    }
    Err(tried.join("; "))
}

fn api() -> Result<&'static Api, String> {
    static API: OnceLock<Result<Api, String>> = OnceLock::new();
    API.get_or_init(load).as_ref().map_err(Clone::clone)
}

/// Name of the OpenSlide library the backend would use, if one loads.
pub fn library() -> Option<String> {
    api().ok().map(|a| a.library.clone())
}

/// An open OpenSlide handle.
struct OpenSlideHandle {
    api: &'static Api,
    osr: Osr,
}

// SAFETY: OpenSlide documents an openslide_t as safe to use from many
// threads at once (it locks internally); the pointer is owned by OpenSlideHandle and
// closed only in Drop.
unsafe impl Send for OpenSlideHandle {}
// SAFETY: as above, concurrent calls on one openslide_t are allowed.
unsafe impl Sync for OpenSlideHandle {}

impl Drop for OpenSlideHandle {
    fn drop(&mut self) {
        // SAFETY: osr came from openslide_open, is non-null and closed once.
        unsafe { (self.api.close)(self.osr) }
    }
}

impl OpenSlideHandle {
    fn error(&self) -> Option<String> {
        // SAFETY: live handle; the returned string is owned by OpenSlide and
        // copied immediately.
        let e = unsafe { (self.api.get_error)(self.osr) };
        (!e.is_null()).then(|| {
            // SAFETY: non-null, and OpenSlide's error string is
            // NUL-terminated and lives as long as the handle.
            unsafe { CStr::from_ptr(e) }.to_string_lossy().into_owned()
        })
    }

    fn check(&self, part: &str) -> FaultResult<()> {
        match self.error() {
            Some(e) => Err(Fault::corrupt(part, format!("OpenSlide: {e}"))),
            None => Ok(()),
        }
    }

    fn strings(&self, list: *const *const c_char) -> Vec<String> {
        let mut out = Vec::new();
        if list.is_null() {
            return out;
        }
        let mut i = 0;
        loop {
            // SAFETY: OpenSlide returns a NULL-terminated array of C
            // strings that lives as long as the handle.
            let p = unsafe { *list.add(i) };
            if p.is_null() {
                return out;
            }
            // SAFETY: a non-null entry of that array is a NUL-terminated
            // string owned by the handle.
            out.push(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned());
            i += 1;
        }
    }

    /// Premultiplied native-endian ARGB to straight RGBA (as
    /// openslide-python does: integer division).
    fn argb_to_rgba(argb: &[u32]) -> Vec<u8> {
        let mut out = Vec::with_capacity(argb.len() * 4);
        for &p in argb {
            let a = p >> 24;
            let (mut r, mut g, mut b) = ((p >> 16) & 0xFF, (p >> 8) & 0xFF, p & 0xFF);
            if a != 0 && a != 255 {
                r = r * 255 / a;
                g = g * 255 / a;
                b = b * 255 / a;
            }
            out.extend_from_slice(&[r as u8, g as u8, b as u8, a as u8]);
        }
        out
    }

    fn read_region(&self, x: i64, y: i64, level: i32, w: u32, h: u32) -> FaultResult<Vec<u8>> {
        let mut argb = vec![0u32; w as usize * h as usize];
        // SAFETY: the buffer holds w*h pixels, as openslide_read_region
        // writes for this width and height.
        unsafe {
            (self.api.read_region)(
                self.osr,
                argb.as_mut_ptr(),
                x,
                y,
                level,
                i64::from(w),
                i64::from(h),
            )
        };
        self.check(&format!("level {level} region at ({x}, {y})"))?;
        Ok(Self::argb_to_rgba(&argb))
    }
}

struct BackendLevel {
    handle: Arc<OpenSlideHandle>,
    level: i32,
    grid: Grid,
    downsample: f64,
}

impl LevelSource for BackendLevel {
    fn grid(&self) -> Grid {
        self.grid
    }

    fn encoded_tile(&self, col: u32, row: u32) -> FaultResult<Option<crate::EncodedTile>> {
        // No stored form is reachable through OpenSlide: hand out the pixels.
        let g = self.grid;
        let x = (f64::from(col * g.tile_width) * self.downsample).round() as i64;
        let y = (f64::from(row * g.tile_height) * self.downsample).round() as i64;
        let bytes = self
            .handle
            .read_region(x, y, self.level, g.tile_width, g.tile_height)?;
        Ok(Some(crate::EncodedTile {
            width: g.tile_width,
            height: g.tile_height,
            codec: crate::TileCodec::Rgba,
            bytes,
        }))
    }

    fn read_region(&self, x: i64, y: i64, width: u32, height: u32) -> Option<FaultResult<Vec<u8>>> {
        Some(self.handle.read_region(x, y, self.level, width, height))
    }
}

struct BackendAssociated {
    handle: Arc<OpenSlideHandle>,
    name: CString,
    size: (u32, u32),
}

impl AssociatedSource for BackendAssociated {
    fn size(&self) -> (u32, u32) {
        self.size
    }
    fn read(&self) -> FaultResult<RgbaImage> {
        let mut argb = vec![0u32; self.size.0 as usize * self.size.1 as usize];
        // SAFETY: buffer sized from openslide_get_associated_image_dimensions.
        unsafe {
            (self.handle.api.read_associated)(
                self.handle.osr,
                self.name.as_ptr(),
                argb.as_mut_ptr(),
            )
        };
        self.handle.check("associated image")?;
        Ok(RgbaImage {
            width: self.size.0,
            height: self.size.1,
            pixels: OpenSlideHandle::argb_to_rgba(&argb),
        })
    }
}

pub(crate) fn open(path: &Path, format: &str, policy: BackendPolicy) -> FaultResult<Opened> {
    let unsupported =
        |why: String| Fault::unsupported("file", format!("looks like {format}, {why}"));
    if policy == BackendPolicy::Never {
        return Err(unsupported(
            "which is read only through OpenSlide (disabled)".into(),
        ));
    }
    let api = api().map_err(|tried| {
        unsupported(format!(
            "which is read through the OpenSlide library; none could be loaded (tried {tried}). \
             Install OpenSlide (Debian: libopenslide0) or set KH_OPENSLIDE_LIB"
        ))
    })?;
    let c_path = CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| Fault::argument("file", "path contains a NUL byte"))?;
    // SAFETY: c_path is a valid NUL-terminated string for the call.
    let osr = unsafe { (api.open)(c_path.as_ptr()) };
    if osr.is_null() {
        return Err(unsupported(format!(
            "but {} does not recognise it",
            api.library
        )));
    }
    let handle = Arc::new(OpenSlideHandle { api, osr });
    handle.check("open").map_err(|f| {
        Fault::new(
            ErrorKind::Corrupt,
            f.part,
            format!("{format}: {}", f.reason),
        )
    })?;
    // SAFETY: live handle for each of these metadata calls.
    let count = unsafe { (api.level_count)(osr) };
    // SAFETY: as above; the array is read by `strings` while the handle
    // lives.
    let names = handle.strings(unsafe { (api.property_names)(osr) });
    let mut properties = BTreeMap::new();
    for n in names {
        let c =
            CString::new(n.clone()).map_err(|_| Fault::corrupt("properties", "NUL in a name"))?;
        // SAFETY: live handle and a NUL-terminated name that outlives the
        // call.
        let v = unsafe { (api.property_value)(osr, c.as_ptr()) };
        if !v.is_null() {
            // SAFETY: non-null: a NUL-terminated value owned by the handle,
            // copied at once.
            let value = unsafe { CStr::from_ptr(v) }.to_string_lossy().into_owned();
            properties.insert(n, value);
        }
    }
    let mut levels: Vec<Box<dyn LevelSource>> = Vec::new();
    let mut downsamples = Vec::new();
    for level in 0..count.max(0) {
        let (mut w, mut h) = (0i64, 0i64);
        // SAFETY: live handle; `w` and `h` are valid for writes during the
        // call; a level outside the count makes OpenSlide write -1.
        unsafe { (api.level_dimensions)(osr, level, &mut w, &mut h) };
        // SAFETY: live handle; a level outside the count returns -1.
        let ds = unsafe { (api.level_downsample)(osr, level) };
        let tile = |k: &str| {
            properties
                .get(&format!("openslide.level[{level}].tile-{k}"))
                .and_then(|v| v.parse::<u32>().ok())
                .filter(|t| (1..=65536).contains(t))
                .unwrap_or(512)
        };
        levels.push(Box::new(BackendLevel {
            handle: handle.clone(),
            level,
            grid: Grid {
                width: w.max(0) as u64,
                height: h.max(0) as u64,
                tile_width: tile("width"),
                tile_height: tile("height"),
            },
            downsample: ds,
        }));
        downsamples.push(ds);
    }
    handle.check("levels")?;
    let mut associated: BTreeMap<String, Box<dyn AssociatedSource>> = BTreeMap::new();
    // SAFETY: live handle; the array is read by `strings` while it lives.
    for name in handle.strings(unsafe { (api.associated_names)(osr) }) {
        let c = CString::new(name.clone())
            .map_err(|_| Fault::corrupt("associated images", "NUL in a name"))?;
        let (mut w, mut h) = (0i64, 0i64);
        // SAFETY: live handle, a NUL-terminated name that outlives the
        // call, and `w`, `h` valid for writes.
        unsafe { (api.associated_dimensions)(osr, c.as_ptr(), &mut w, &mut h) };
        if w > 0 && h > 0 && w * h <= 1 << 28 {
            associated.insert(
                name,
                Box::new(BackendAssociated {
                    handle: handle.clone(),
                    name: c,
                    size: (w as u32, h as u32),
                }),
            );
        }
    }
    let vendor = properties
        .get("openslide.vendor")
        .cloned()
        .unwrap_or_else(|| format.to_string());
    properties.insert("kakehashi.backend".into(), api.library.clone());
    Ok(Opened {
        vendor,
        levels,
        downsamples: Some(downsamples),
        properties,
        associated,
    })
}
