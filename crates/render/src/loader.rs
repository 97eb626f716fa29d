//! Decodes tiles on a pool of worker threads, off the render thread.
//!
//! The render thread states every frame which tiles it wants, best first;
//! that list replaces the queue, so tiles that left the view are cancelled
//! before a worker starts them. Finished tiles come back on a channel.

use crate::pyramid::{RenderLevel, TileKey};
use kh_slide::Slide;
use parking_lot::{Condvar, Mutex};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;
use std::time::Duration;

/// A decoded tile: RGBA8 of the tile's valid area (clipped at the level's
/// edge), or why it could not be read.
pub struct LoadedTile {
    pub key: TileKey,
    pub width: u32,
    pub height: u32,
    pub pixels: Result<Vec<u8>, kh_slide::SlideError>,
}

/// Called from a worker after each tile, so a windowed viewer can wake up
/// and draw.
pub type Notify = Arc<dyn Fn() + Send + Sync>;

struct Queue {
    /// Wanted tiles, best last (workers pop from the end).
    pending: Vec<TileKey>,
    in_flight: HashSet<TileKey>,
    shutdown: bool,
}

/// The wanted tiles and the workers' wake-up: the render thread replaces
/// the queue each frame, the workers take from it.
struct WorkQueue {
    queue: Mutex<Queue>,
    wake: Condvar,
}

pub struct Loader {
    shared: Arc<WorkQueue>,
    results: Receiver<LoadedTile>,
    workers: Vec<JoinHandle<()>>,
}

impl Loader {
    pub fn new(
        slide: Arc<Slide>,
        levels: Vec<RenderLevel>,
        threads: usize,
        notify: Notify,
    ) -> Loader {
        let shared = Arc::new(WorkQueue {
            queue: Mutex::new(Queue {
                pending: Vec::new(),
                in_flight: HashSet::new(),
                shutdown: false,
            }),
            wake: Condvar::new(),
        });
        let (send, results) = channel();
        let levels = Arc::new(levels);
        let workers = (0..threads.max(1))
            .map(|i| {
                let shared = shared.clone();
                let slide = slide.clone();
                let levels = levels.clone();
                let send = send.clone();
                let notify = notify.clone();
                std::thread::Builder::new()
                    .name(format!("kh-tile-{i}"))
                    .spawn(move || work(&shared, &slide, &levels, &send, &notify))
            })
            .filter_map(|spawned| match spawned {
                Ok(handle) => Some(handle),
                Err(e) => {
                    tracing::error!("could not start a tile worker: {e}");
                    None
                }
            })
            .collect();
        Loader {
            shared,
            results,
            workers,
        }
    }

    /// Replace the queue with `wanted` (best first), leaving out tiles
    /// already being decoded.
    pub fn want(&self, wanted: impl DoubleEndedIterator<Item = TileKey>) {
        let mut queue = self.shared.queue.lock();
        queue.pending.clear();
        let in_flight = std::mem::take(&mut queue.in_flight);
        queue
            .pending
            .extend(wanted.rev().filter(|k| !in_flight.contains(k)));
        queue.in_flight = in_flight;
        if !queue.pending.is_empty() {
            self.shared.wake.notify_all();
        }
    }

    /// Tiles waiting, being decoded, or decoded and not yet received.
    pub fn busy(&self) -> usize {
        let queue = self.shared.queue.lock();
        queue.pending.len() + queue.in_flight.len()
    }

    pub fn try_next(&self) -> Option<LoadedTile> {
        self.received(self.results.try_recv().ok())
    }

    /// Wait up to `timeout` for a finished tile.
    pub fn next_timeout(&self, timeout: Duration) -> Option<LoadedTile> {
        self.received(self.results.recv_timeout(timeout).ok())
    }

    /// A tile stays in flight until the render thread has it: while it
    /// waits in the channel it is neither resident nor failed yet, and
    /// would otherwise be asked for (and decoded, or reported) again.
    fn received(&self, tile: Option<LoadedTile>) -> Option<LoadedTile> {
        if let Some(t) = &tile {
            self.shared.queue.lock().in_flight.remove(&t.key);
        }
        tile
    }
}

impl Drop for Loader {
    fn drop(&mut self) {
        self.shared.queue.lock().shutdown = true;
        self.shared.wake.notify_all();
        for worker in self.workers.drain(..) {
            // A worker that panicked has nothing left to clean up.
            let _ = worker.join();
        }
    }
}

/// Decode one render tile (RGBA8 of its valid area) into `pixels`: what a
/// worker does per tile, and what benchmarks measure as the decode floor.
pub fn read_tile(
    slide: &Slide,
    levels: &[RenderLevel],
    key: TileKey,
    pixels: &mut Vec<u8>,
) -> Result<(), kh_slide::SlideError> {
    let (x, y, width, height) = levels[key.level as usize].tile_rect(key.col, key.row);
    slide.read_level_rect(
        key.level as usize,
        x as i64,
        y as i64,
        width,
        height,
        pixels,
    )
}

fn work(
    shared: &WorkQueue,
    slide: &Slide,
    levels: &[RenderLevel],
    send: &Sender<LoadedTile>,
    notify: &Notify,
) {
    let mut pixels = Vec::new();
    loop {
        let key = {
            let mut queue = shared.queue.lock();
            loop {
                if queue.shutdown {
                    return;
                }
                if let Some(key) = queue.pending.pop() {
                    queue.in_flight.insert(key);
                    break key;
                }
                shared.wake.wait(&mut queue);
            }
        };
        let (_, _, width, height) = levels[key.level as usize].tile_rect(key.col, key.row);
        let read = read_tile(slide, levels, key, &mut pixels).map(|()| std::mem::take(&mut pixels));
        let loaded = LoadedTile {
            key,
            width,
            height,
            pixels: read,
        };
        // In flight until the render thread receives it (Loader::received).
        if send.send(loaded).is_err() {
            return;
        }
        notify();
    }
}
