//! Which tile lives in which GPU slot: a fixed pool of slots with
//! least-recently-used eviction, and the page table the shader reads,
//! mirrored here so changes go to the GPU as one write per frame.

use crate::pyramid::{RenderLevel, TileKey};
use std::collections::HashMap;

#[derive(Debug, Clone, Copy)]
struct Slot {
    tile: Option<TileKey>,
    /// Frame in which a view last wanted this tile.
    last_used: u64,
    /// Never evicted (the base level beneath everything).
    pinned: bool,
}

pub struct Residency {
    slots: Vec<Slot>,
    slot_of: HashMap<TileKey, u32>,
    free: Vec<u32>,
    /// Per level: first page-table entry and tiles across.
    page_offsets: Vec<u32>,
    tiles_across: Vec<u32>,
    /// Slot + 1 per tile; 0 when not resident.
    pages: Vec<u32>,
    dirty: Option<(usize, usize)>,
    frame: u64,
}

impl Residency {
    pub fn new(levels: &[RenderLevel], slot_count: u32) -> Residency {
        let mut page_offsets = Vec::with_capacity(levels.len());
        let mut total = 0u64;
        for level in levels {
            page_offsets.push(total as u32);
            total += level.tile_count();
        }
        Residency {
            slots: vec![
                Slot {
                    tile: None,
                    last_used: 0,
                    pinned: false,
                };
                slot_count as usize
            ],
            slot_of: HashMap::new(),
            free: (0..slot_count).rev().collect(),
            page_offsets,
            tiles_across: levels.iter().map(|l| l.tiles_across()).collect(),
            pages: vec![0; total as usize],
            dirty: None,
            frame: 1,
        }
    }

    /// Page-table entries needed for these levels (to size the GPU buffer
    /// before building anything).
    pub fn page_count(levels: &[RenderLevel]) -> u64 {
        levels.iter().map(|l| l.tile_count()).sum()
    }

    pub fn page_offset(&self, level: usize) -> u32 {
        self.page_offsets[level]
    }

    pub fn pages(&self) -> &[u32] {
        &self.pages
    }

    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    pub fn occupied(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// Start a new frame: tiles touched from now on count as in use.
    pub fn begin_frame(&mut self) {
        self.frame += 1;
    }

    pub fn is_resident(&self, key: TileKey) -> bool {
        self.slot_of.contains_key(&key)
    }

    /// Mark a resident tile as wanted this frame; false if not resident.
    pub fn touch(&mut self, key: TileKey) -> bool {
        match self.slot_of.get(&key) {
            Some(&slot) => {
                self.slots[slot as usize].last_used = self.frame;
                true
            }
            None => false,
        }
    }

    /// A slot for a newly loaded tile: a free one, else the least recently
    /// used unpinned slot not wanted this frame. `None` when every slot is
    /// in use now (the tile is dropped rather than evict what is on screen).
    pub fn insert(&mut self, key: TileKey, pinned: bool) -> Option<u32> {
        if let Some(&slot) = self.slot_of.get(&key) {
            return Some(slot);
        }
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                let (victim, _) = self
                    .slots
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| !s.pinned && s.last_used < self.frame)
                    .min_by_key(|(_, s)| s.last_used)?;
                let victim = victim as u32;
                if let Some(old) = self.slots[victim as usize].tile.take() {
                    self.slot_of.remove(&old);
                    self.set_page(old, 0);
                }
                victim
            }
        };
        self.slots[slot as usize] = Slot {
            tile: Some(key),
            last_used: self.frame,
            pinned,
        };
        self.slot_of.insert(key, slot);
        self.set_page(key, slot + 1);
        Some(slot)
    }

    fn set_page(&mut self, key: TileKey, value: u32) {
        let index = self.page_offsets[key.level as usize] as usize
            + key.row as usize * self.tiles_across[key.level as usize] as usize
            + key.col as usize;
        self.pages[index] = value;
        self.dirty = Some(match self.dirty {
            None => (index, index + 1),
            Some((a, b)) => (a.min(index), b.max(index + 1)),
        });
    }

    /// The page-table range changed since the last call: (first entry,
    /// entries).
    pub fn take_dirty(&mut self) -> Option<(usize, &[u32])> {
        let (a, b) = self.dirty.take()?;
        Some((a, &self.pages[a..b]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels() -> Vec<RenderLevel> {
        vec![RenderLevel {
            width: 1024,
            height: 1024,
            downsample: 1.0,
            tile_width: 256,
            tile_height: 256,
            mips: 1,
        }]
    }

    fn key(col: u32) -> TileKey {
        TileKey {
            level: 0,
            col,
            row: 0,
        }
    }

    #[test]
    fn evicts_least_recently_used_never_this_frames_or_pinned() {
        let mut r = Residency::new(&levels(), 3);
        assert_eq!(r.insert(key(0), true), Some(0));
        assert_eq!(r.insert(key(1), false), Some(1));
        r.begin_frame();
        assert_eq!(r.insert(key(2), false), Some(2));
        r.begin_frame();
        r.touch(key(2));
        // Slot 1 (key 1) is the oldest unpinned one.
        assert_eq!(r.insert(key(3), false), Some(1));
        assert!(!r.is_resident(key(1)));
        assert_eq!(r.pages()[1], 0);
        assert_eq!(r.pages()[3], 2);
        // Everything else is pinned or in use this frame.
        assert_eq!(r.insert(key(1), false), None);
        let (first, entries) = r.take_dirty().unwrap_or((0, &[]));
        assert_eq!((first, entries.len()), (0, 4));
        assert!(r.take_dirty().is_none());
    }
}
