//! How the view moves: drags with inertia, animated zooms towards a point,
//! and jumps. Pure (time is passed in), so it is tested without a window.

use glam::DVec2;
use kh_render::{View, Viewport};
use std::time::{Duration, Instant};

/// Zoom animations take this long.
pub const ZOOM_DURATION: Duration = Duration::from_millis(180);
/// Inertia decays with this time constant.
const INERTIA_TAU: f64 = 0.25;
/// Below this speed (screen px/s) inertia stops.
const MIN_SPEED: f64 = 20.0;
/// Motion older than this at release does not throw the slide.
const THROW_WINDOW: Duration = Duration::from_millis(60);

struct ZoomAnimation {
    from: View,
    /// Final zoom factor relative to `from`.
    factor: f64,
    anchor_screen: DVec2,
    start: Instant,
}

pub struct ViewMotion {
    pub view: View,
    zoom: Option<ZoomAnimation>,
    /// Inertia velocity in screen px/s, and when it was last applied.
    glide: Option<(DVec2, Instant)>,
    /// Recent drag motion: (time, delta) for the release velocity.
    recent: Vec<(Instant, DVec2)>,
}

impl ViewMotion {
    pub fn new(view: View) -> ViewMotion {
        ViewMotion {
            view,
            zoom: None,
            glide: None,
            recent: Vec::new(),
        }
    }

    /// Jump (stops any motion).
    pub fn set(&mut self, view: View) {
        self.view = view;
        self.zoom = None;
        self.glide = None;
    }

    /// The final view once animations end (where a zoom is heading).
    pub fn target(&self, viewport: Viewport) -> View {
        match &self.zoom {
            Some(a) => a.from.zoomed_about(a.factor, a.anchor_screen, viewport),
            None => self.view,
        }
    }

    pub fn drag(&mut self, delta_screen: DVec2, now: Instant) {
        self.glide = None;
        self.zoom = None;
        self.view = self.view.panned_by(delta_screen);
        self.recent
            .retain(|(t, _)| now.duration_since(*t) < THROW_WINDOW);
        self.recent.push((now, delta_screen));
    }

    /// End a drag: a throw keeps gliding.
    pub fn release(&mut self, now: Instant) {
        self.recent
            .retain(|(t, _)| now.duration_since(*t) < THROW_WINDOW);
        if self.recent.len() >= 2 {
            let span = now.duration_since(self.recent[0].0).as_secs_f64().max(1e-3);
            let moved: DVec2 = self.recent.iter().map(|(_, d)| *d).sum();
            let velocity = moved / span;
            if velocity.length() > MIN_SPEED * 5.0 {
                self.glide = Some((velocity, now));
            }
        }
        self.recent.clear();
    }

    /// Zoom by `factor` (below 1 zooms in) about a screen point, animated;
    /// successive calls compound (a wheel spun several notches). The point
    /// under the anchor stays put throughout.
    pub fn zoom_about(
        &mut self,
        factor: f64,
        anchor_screen: DVec2,
        viewport: Viewport,
        now: Instant,
    ) {
        self.glide = None;
        let target = self
            .target(viewport)
            .zoomed_about(factor, anchor_screen, viewport);
        self.zoom = Some(ZoomAnimation {
            from: self.view,
            factor: target.zoom / self.view.zoom,
            anchor_screen,
            start: now,
        });
    }

    /// Advance animations to `now`; true while still moving.
    pub fn tick(&mut self, viewport: Viewport, now: Instant) -> bool {
        let mut moving = false;
        if let Some(a) = &self.zoom {
            let t =
                (now.duration_since(a.start).as_secs_f64() / ZOOM_DURATION.as_secs_f64()).min(1.0);
            let eased = 1.0 - (1.0 - t).powi(3);
            self.view = a
                .from
                .zoomed_about(a.factor.powf(eased), a.anchor_screen, viewport);
            if t >= 1.0 {
                self.zoom = None;
            } else {
                moving = true;
            }
        }
        if let Some((velocity, last)) = self.glide {
            let dt = now.duration_since(last).as_secs_f64();
            let decayed = velocity * (-dt / INERTIA_TAU).exp();
            // Distance covered while decaying from `velocity` to `decayed`.
            let step = (velocity - decayed) * INERTIA_TAU;
            self.view = self.view.panned_by(step);
            if decayed.length() < MIN_SPEED {
                self.glide = None;
            } else {
                self.glide = Some((decayed, now));
                moving = true;
            }
        }
        moving
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kh_render::Rotation;

    const VP: Viewport = Viewport {
        width: 800,
        height: 600,
    };

    fn view() -> View {
        View {
            center_slide: [5000.0, 5000.0],
            zoom: 2.0,
            rotation: Rotation::Deg0,
        }
    }

    #[test]
    fn slow_drag_moves_exactly_and_does_not_glide() {
        let t0 = Instant::now();
        let mut c = ViewMotion::new(view());
        c.drag(DVec2::new(10.0, 0.0), t0);
        c.drag(DVec2::new(10.0, 0.0), t0 + Duration::from_millis(10));
        c.release(t0 + Duration::from_millis(500));
        assert!(!c.tick(VP, t0 + Duration::from_millis(600)));
        assert_eq!(c.view.center_slide, [5000.0 - 40.0, 5000.0]);
    }

    #[test]
    fn a_throw_glides_on_and_stops() {
        let t0 = Instant::now();
        let mut c = ViewMotion::new(view());
        for i in 0..5 {
            c.drag(DVec2::new(20.0, 0.0), t0 + Duration::from_millis(i * 10));
        }
        let after_drag = c.view.center_slide[0];
        c.release(t0 + Duration::from_millis(45));
        let mut t = t0 + Duration::from_millis(45);
        let mut frames = 0;
        while c.tick(VP, t) {
            t += Duration::from_millis(16);
            frames += 1;
            assert!(frames < 1000, "inertia never stops");
        }
        assert!(
            c.view.center_slide[0] < after_drag - 100.0,
            "the slide kept moving the way it was thrown"
        );
    }

    #[test]
    fn zoom_animates_to_the_anchor_fixed_target_and_compounds() {
        let t0 = Instant::now();
        let mut c = ViewMotion::new(view());
        let anchor = DVec2::new(100.0, 100.0);
        let p = c.view.slide_from_screen(VP).transform_point2(anchor);
        c.zoom_about(0.5, anchor, VP, t0);
        c.zoom_about(0.5, anchor, VP, t0 + Duration::from_millis(50));
        assert!(c.tick(VP, t0 + Duration::from_millis(100)));
        assert!(!c.tick(VP, t0 + Duration::from_secs(1)));
        assert!((c.view.zoom - 0.5).abs() < 1e-9);
        let q = c.view.slide_from_screen(VP).transform_point2(anchor);
        assert!((p - q).length() < 1e-6, "{p} vs {q}");
    }
}
