//! The one font every plot uses: DejaVu Sans, compiled into the library.
//!
//! plotters' `ab_glyph` text backend looks fonts up in a table it keeps in a
//! static. evcxr compiles every notebook cell as its own library, each with its
//! own copy of that static, so a font registered "once" in an earlier cell is
//! missing in the next one. Registering is cheap (it parses the font's table
//! directory, nothing more), so [`register`] is called at the start of every
//! drawing instead of once per process.

use plotters::style::{register_font, FontStyle};

use crate::error::{Error, Result};

/// The family name the plots ask plotters for.
pub(crate) const FAMILY: &str = "sans-serif";

/// Makes DejaVu Sans (regular and bold) the `sans-serif` family of this copy of plotters.
pub(crate) fn register() -> Result<()> {
    let faces = [
        (FontStyle::Normal, dejavu::sans::regular()),
        (FontStyle::Bold, dejavu::sans::bold()),
    ];
    for (style, bytes) in faces {
        register_font(FAMILY, style, bytes).map_err(|_| {
            Error::Plot(format!(
                "the built-in DejaVu Sans font ({}) could not be parsed",
                style.as_str()
            ))
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use plotters::style::{FontDesc, FontFamily};

    #[test]
    fn registered_font_measures_text() {
        register().unwrap();
        let font = FontDesc::new(FontFamily::SansSerif, 20.0, FontStyle::Normal);
        let (w_short, h) = font.box_size("1").unwrap();
        let (w_long, _) = font.box_size("1111111111").unwrap();
        assert!(h > 10, "text height {h}");
        assert!(w_long > 8 * w_short, "{w_long} vs {w_short}");
    }
}
