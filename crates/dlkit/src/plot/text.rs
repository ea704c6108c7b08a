//! Text on bitmaps, laid out glyph by glyph at the font's own advances.
//!
//! plotters' `ab_glyph` backend places each glyph by the left edge of its
//! inked box instead of its origin (the left side bearing is lost) and cuts
//! every position to a whole pixel, so letters drift by up to two pixels:
//! "validati on", "1 0,000", "con fusion". [`EvenText`] wraps a backend and
//! draws text itself: each glyph at its origin, advances and kerning added up
//! in fractions of a pixel, all glyphs on one whole-pixel baseline. The text's
//! box (what anchors and layouts measure) is plotters' own, so nothing moves
//! but the letters inside it. SVG output needs none of this: the viewer lays
//! out its `<text>`.

use ab_glyph::{point, Font, FontRef, ScaleFont};
use plotters::prelude::DrawingBackend;
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind, FontStyle,
};

use super::font::FAMILY;
use crate::error::{Error, Result};

/// A drawing backend that draws the plots' text evenly spaced and everything
/// else through `inner`.
pub(crate) struct EvenText<DB> {
    inner: DB,
    regular: FontRef<'static>,
    bold: FontRef<'static>,
}

impl<DB: DrawingBackend> EvenText<DB> {
    pub(crate) fn new(inner: DB) -> Result<Self> {
        let parse = |bytes| {
            FontRef::try_from_slice(bytes).map_err(|_| {
                Error::Plot("the built-in DejaVu Sans font could not be parsed".into())
            })
        };
        Ok(EvenText {
            inner,
            regular: parse(dejavu::sans::regular())?,
            bold: parse(dejavu::sans::bold())?,
        })
    }
}

/// Each inked pixel of `text` at `size` pixels, as (x, y, coverage), with the
/// text's origin at (0, 0) and its baseline at `size / 2` (where plotters puts
/// it, so text sits in its box as before).
fn glyph_pixels(font: &FontRef<'static>, size: f32, text: &str) -> Vec<(i32, i32, f32)> {
    let font = font.as_scaled(size);
    let baseline = (size / 2.0).round();
    let mut caret = 0f32;
    let mut previous = None;
    let mut pixels = Vec::new();
    for c in text.chars() {
        let id = font.glyph_id(c);
        if let Some(previous) = previous {
            caret += font.kern(previous, id);
        }
        previous = Some(id);
        let glyph = id.with_scale_and_position(font.scale(), point(caret, baseline));
        caret += font.h_advance(id);
        if let Some(outline) = font.outline_glyph(glyph) {
            let bounds = outline.px_bounds();
            let (x0, y0) = (bounds.min.x as i32, bounds.min.y as i32);
            outline.draw(|x, y, coverage| {
                pixels.push((x0 + x as i32, y0 + y as i32, coverage.min(1.0)));
            });
        }
    }
    pixels
}

impl<DB: DrawingBackend> DrawingBackend for EvenText<DB> {
    type ErrorType = DB::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }
    fn ensure_prepared(&mut self) -> std::result::Result<(), DrawingErrorKind<DB::ErrorType>> {
        self.inner.ensure_prepared()
    }
    fn present(&mut self) -> std::result::Result<(), DrawingErrorKind<DB::ErrorType>> {
        self.inner.present()
    }
    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> std::result::Result<(), DrawingErrorKind<DB::ErrorType>> {
        self.inner.draw_pixel(point, color)
    }
    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> std::result::Result<(), DrawingErrorKind<DB::ErrorType>> {
        self.inner.draw_line(from, to, style)
    }
    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> std::result::Result<(), DrawingErrorKind<DB::ErrorType>> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }
    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> std::result::Result<(), DrawingErrorKind<DB::ErrorType>> {
        self.inner.draw_path(path, style)
    }
    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> std::result::Result<(), DrawingErrorKind<DB::ErrorType>> {
        self.inner.draw_circle(center, radius, style, fill)
    }
    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> std::result::Result<(), DrawingErrorKind<DB::ErrorType>> {
        self.inner.fill_polygon(vert, style)
    }
    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> std::result::Result<(), DrawingErrorKind<DB::ErrorType>> {
        self.inner.blit_bitmap(pos, size, src)
    }

    /// Anchored and rotated as plotters does, with the glyphs of [`glyph_pixels`].
    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> std::result::Result<(), DrawingErrorKind<DB::ErrorType>> {
        if style.family().as_str() != FAMILY {
            return self.inner.draw_text(text, style, pos);
        }
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let ((min_x, min_y), (max_x, max_y)) = style
            .layout_box(text)
            .map_err(|e| DrawingErrorKind::FontError(Box::new(e)))?;
        let (width, height) = (max_x - min_x, max_y - min_y);
        let dx = match style.anchor().h_pos {
            HPos::Left => 0,
            HPos::Right => -width,
            HPos::Center => -width / 2,
        };
        let dy = match style.anchor().v_pos {
            VPos::Top => 0,
            VPos::Center => -height / 2,
            VPos::Bottom => -height,
        };
        let font = match style.style() {
            FontStyle::Bold => &self.bold,
            _ => &self.regular,
        };
        let transform = style.transform();
        let (w, h) = self.inner.get_size();
        for (x, y, coverage) in glyph_pixels(font, style.size() as f32, text) {
            let (x, y) = transform.transform(x + dx - min_x, y + dy - min_y);
            let (x, y) = (pos.0 + x, pos.1 + y);
            if x >= 0 && x < w as i32 && y >= 0 && y < h as i32 {
                self.inner.draw_pixel((x, y), color.mix(coverage as f64))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns(pixels: &[(i32, i32, f32)]) -> (i32, i32) {
        let xs = pixels.iter().map(|p| p.0);
        (xs.clone().min().unwrap(), xs.max().unwrap())
    }

    /// An "l" after any letter starts one advance of that letter further
    /// than an "l" alone (within the pixel a fraction rounds to), so letters
    /// keep their spacing whatever their shapes.
    #[test]
    fn each_glyph_starts_one_advance_after_the_last() {
        let font = FontRef::try_from_slice(dejavu::sans::regular()).unwrap();
        let scaled = font.as_scaled(13.0);
        let (l_alone, _) = columns(&glyph_pixels(&font, 13.0, "l"));
        // the side bearing stays (plotters' backend drops it: column 0)
        let bearing = scaled.h_side_bearing(scaled.glyph_id('l'));
        assert!(
            bearing >= 1.0 && (l_alone as f32 - bearing).abs() < 1.0,
            "{l_alone} vs {bearing}"
        );
        for first in ["o", "i", "w", "1", "a", "t"] {
            let (_, first_right) = columns(&glyph_pixels(&font, 13.0, first));
            let both = glyph_pixels(&font, 13.0, &format!("{first}l"));
            let l_left = both
                .iter()
                .map(|p| p.0)
                .filter(|&x| x > first_right)
                .min()
                .unwrap();
            let c = first.chars().next().unwrap();
            let advance = scaled.h_advance(scaled.glyph_id(c));
            let offset = (l_left - l_alone) as f32 - advance;
            assert!(offset.abs() <= 1.0, "{first}l: {offset}");
        }
        assert!(glyph_pixels(&font, 13.0, " ").is_empty());
    }
}
