//! What the viewer looks at: centre, zoom and rotation, and the transforms
//! between screen and slide pixels that follow from them.

use glam::{DAffine2, DMat2, DVec2};
use serde::{Deserialize, Serialize};

/// Clockwise rotation of the slide on screen, in quarter turns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Rotation {
    #[default]
    Deg0,
    Deg90,
    Deg180,
    Deg270,
}

impl Rotation {
    /// From degrees; only multiples of 90 are rotations.
    pub fn from_degrees(degrees: i64) -> Option<Rotation> {
        match degrees.rem_euclid(360) {
            0 => Some(Rotation::Deg0),
            90 => Some(Rotation::Deg90),
            180 => Some(Rotation::Deg180),
            270 => Some(Rotation::Deg270),
            _ => None,
        }
    }

    pub fn degrees(self) -> u32 {
        match self {
            Rotation::Deg0 => 0,
            Rotation::Deg90 => 90,
            Rotation::Deg180 => 180,
            Rotation::Deg270 => 270,
        }
    }

    /// A further quarter turn clockwise.
    pub fn clockwise(self) -> Rotation {
        Rotation::from_degrees(i64::from(self.degrees()) + 90).unwrap_or_default()
    }

    pub fn counter_clockwise(self) -> Rotation {
        Rotation::from_degrees(i64::from(self.degrees()) + 270).unwrap_or_default()
    }

    /// Slide direction of a screen direction. With the slide turned 90°
    /// clockwise, the slide's top edge lies along the screen's right edge:
    /// screen +x runs along slide -y and screen +y along slide +x.
    pub fn slide_from_screen_dir(self) -> DMat2 {
        match self {
            Rotation::Deg0 => DMat2::from_cols(DVec2::new(1.0, 0.0), DVec2::new(0.0, 1.0)),
            Rotation::Deg90 => DMat2::from_cols(DVec2::new(0.0, -1.0), DVec2::new(1.0, 0.0)),
            Rotation::Deg180 => DMat2::from_cols(DVec2::new(-1.0, 0.0), DVec2::new(0.0, -1.0)),
            Rotation::Deg270 => DMat2::from_cols(DVec2::new(0.0, 1.0), DVec2::new(-1.0, 0.0)),
        }
    }
}

/// Where the viewport looks: the slide point at its centre, the zoom in
/// slide (level-0) pixels per screen pixel, and the rotation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct View {
    pub center_slide: [f64; 2],
    pub zoom: f64,
    pub rotation: Rotation,
}

/// Size of the render target in physical pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewport {
    pub width: u32,
    pub height: u32,
}

/// Smallest and largest zoom a view may take: 1/64 is 64 screen pixels per
/// slide pixel; 2^20 fits a whole 10^6-pixel slide in one screen pixel.
pub const MIN_ZOOM: f64 = 1.0 / 64.0;
pub const MAX_ZOOM: f64 = 1048576.0;

impl View {
    /// The whole slide centred and fitted into the viewport.
    pub fn fit(slide_size: (u64, u64), viewport: Viewport, rotation: Rotation) -> View {
        let (w, h) = match rotation {
            Rotation::Deg0 | Rotation::Deg180 => (slide_size.0 as f64, slide_size.1 as f64),
            Rotation::Deg90 | Rotation::Deg270 => (slide_size.1 as f64, slide_size.0 as f64),
        };
        let zoom = (w / f64::from(viewport.width.max(1)))
            .max(h / f64::from(viewport.height.max(1)))
            .clamp(MIN_ZOOM, MAX_ZOOM);
        View {
            center_slide: [slide_size.0 as f64 / 2.0, slide_size.1 as f64 / 2.0],
            zoom,
            rotation,
        }
    }

    /// Slide pixels of a screen position (pixel centres are at +0.5).
    pub fn slide_from_screen(&self, viewport: Viewport) -> DAffine2 {
        let dir = self.rotation.slide_from_screen_dir() * self.zoom;
        let screen_center = DVec2::new(
            f64::from(viewport.width) / 2.0,
            f64::from(viewport.height) / 2.0,
        );
        let center = DVec2::from(self.center_slide);
        DAffine2::from_mat2_translation(dir, center - dir * screen_center)
    }

    pub fn screen_from_slide(&self, viewport: Viewport) -> DAffine2 {
        self.slide_from_screen(viewport).inverse()
    }

    /// The axis-aligned slide rectangle the viewport shows: (min, max).
    pub fn visible_slide_rect(&self, viewport: Viewport) -> (DVec2, DVec2) {
        let slide_from_screen = self.slide_from_screen(viewport);
        let (w, h) = (f64::from(viewport.width), f64::from(viewport.height));
        let corners = [
            DVec2::new(0.0, 0.0),
            DVec2::new(w, 0.0),
            DVec2::new(0.0, h),
            DVec2::new(w, h),
        ]
        .map(|p| slide_from_screen.transform_point2(p));
        let min = corners
            .iter()
            .fold(DVec2::splat(f64::INFINITY), |a, p| a.min(*p));
        let max = corners
            .iter()
            .fold(DVec2::splat(f64::NEG_INFINITY), |a, p| a.max(*p));
        (min, max)
    }

    /// Zoom by `factor` (above 1 zooms out) keeping the slide point under
    /// `anchor_screen` where it is.
    pub fn zoomed_about(&self, factor: f64, anchor_screen: DVec2, viewport: Viewport) -> View {
        let anchor_slide = self
            .slide_from_screen(viewport)
            .transform_point2(anchor_screen);
        let zoom = (self.zoom * factor).clamp(MIN_ZOOM, MAX_ZOOM);
        let mut next = View { zoom, ..*self };
        let moved = next
            .slide_from_screen(viewport)
            .transform_point2(anchor_screen);
        let c = DVec2::from(self.center_slide) + (anchor_slide - moved);
        next.center_slide = [c.x, c.y];
        next
    }

    /// Move so the slide follows a drag of `delta_screen` pixels.
    pub fn panned_by(&self, delta_screen: DVec2) -> View {
        let d_slide = self.rotation.slide_from_screen_dir() * (delta_screen * self.zoom);
        let c = DVec2::from(self.center_slide) - d_slide;
        View {
            center_slide: [c.x, c.y],
            ..*self
        }
    }
}

/// Display adjustments applied in the shader to display (sRGB-encoded)
/// values: `((v - 0.5) * contrast + 0.5 + brightness) ^ (1 / gamma)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Adjustments {
    pub brightness: f32,
    pub contrast: f32,
    pub gamma: f32,
}

impl Default for Adjustments {
    fn default() -> Self {
        Adjustments {
            brightness: 0.0,
            contrast: 1.0,
            gamma: 1.0,
        }
    }
}

impl Adjustments {
    pub fn is_identity(&self) -> bool {
        *self == Adjustments::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VP: Viewport = Viewport {
        width: 800,
        height: 600,
    };

    #[test]
    fn centre_of_screen_is_view_centre_at_every_rotation() {
        for deg in [0, 90, 180, 270] {
            let view = View {
                center_slide: [1000.0, 2000.0],
                zoom: 2.5,
                rotation: Rotation::from_degrees(deg).unwrap_or_default(),
            };
            let p = view
                .slide_from_screen(VP)
                .transform_point2(DVec2::new(400.0, 300.0));
            assert!((p - DVec2::new(1000.0, 2000.0)).length() < 1e-9, "{deg}");
            let back = view.screen_from_slide(VP).transform_point2(p);
            assert!((back - DVec2::new(400.0, 300.0)).length() < 1e-9);
        }
    }

    #[test]
    fn quarter_turn_puts_slide_top_on_the_right() {
        let view = View {
            center_slide: [0.0, 0.0],
            zoom: 1.0,
            rotation: Rotation::Deg90,
        };
        let m = view.slide_from_screen(VP);
        // One pixel right on screen is one pixel up the slide.
        let d = m.transform_point2(DVec2::new(401.0, 300.0))
            - m.transform_point2(DVec2::new(400.0, 300.0));
        assert_eq!(d, DVec2::new(0.0, -1.0));
    }

    #[test]
    fn zoom_keeps_anchor_fixed_and_pan_follows_drag() {
        let view = View {
            center_slide: [5000.0, 5000.0],
            zoom: 4.0,
            rotation: Rotation::Deg270,
        };
        let anchor = DVec2::new(100.0, 50.0);
        let before = view.slide_from_screen(VP).transform_point2(anchor);
        let zoomed = view.zoomed_about(0.5, anchor, VP);
        let after = zoomed.slide_from_screen(VP).transform_point2(anchor);
        assert!((before - after).length() < 1e-9);
        assert_eq!(zoomed.zoom, 2.0);
        let panned = view.panned_by(DVec2::new(10.0, 0.0));
        let p0 = view.slide_from_screen(VP).transform_point2(anchor);
        let p1 = panned
            .slide_from_screen(VP)
            .transform_point2(anchor + DVec2::new(10.0, 0.0));
        assert!(
            (p0 - p1).length() < 1e-9,
            "dragged point stays under the cursor"
        );
    }

    #[test]
    fn fit_shows_the_whole_slide() {
        let v = View::fit((40000, 10000), VP, Rotation::Deg0);
        assert_eq!(v.zoom, 50.0);
        let v = View::fit((40000, 10000), VP, Rotation::Deg90);
        assert!((v.zoom - 40000.0 / 600.0).abs() < 1e-9);
    }
}
