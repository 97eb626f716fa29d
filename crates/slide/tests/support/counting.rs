//! A counting global allocator for the test binaries that include
//! `support`: measures the peak bytes a piece of work allocates.

use kh_slide::SlideError;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Generous bound on what any hostile file may make us allocate at once;
/// the decoders' own limits keep real use far lower.
pub const MEMORY_BOUND: usize = 300 << 20;

pub struct Counting;
pub static CURRENT: AtomicUsize = AtomicUsize::new(0);
pub static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: delegates to the system allocator and only counts bytes.
#[allow(unsafe_code, reason = "a global allocator is an unsafe trait")]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's layout is passed on unchanged.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

pub struct Outcome {
    pub errors: Vec<SlideError>,
    pub peak: usize,
    pub took: Duration,
}

pub fn measured(f: impl FnOnce() -> Vec<SlideError>) -> Outcome {
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let start = Instant::now();
    let errors = f();
    Outcome {
        errors,
        peak: PEAK.load(Ordering::Relaxed).saturating_sub(base),
        took: start.elapsed(),
    }
}
